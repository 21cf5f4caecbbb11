package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

func tokenCmd(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "token", args, map[string]runFunc{"create": tokenCreate, "list": tokenList, "revoke": tokenRevoke}, tokenUsage)
}

func tokenUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  syncrules token create --scope SCOPE [--scope SCOPE ...] [--name NAME]
                                  create an API token and print it (shown once)
  syncrules token list            list tokens (never their secrets)
  syncrules token revoke ID       revoke a token

Scopes: admin (everything), shop:{id} (that shop), partner:{name} (plugins that partner owns).
The commands open the store the server uses (--config, --data-dir, SYNCRULES_DB).

Run "syncrules token <command> --help" for a command's flags.
`)
}

// repeated is a flag that may be given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// storeFlags are the flags that find the store.
type storeFlags struct {
	config, dataDir *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		config:  fs.String("config", "config.toml", "configuration `file`; the default may be absent"),
		dataDir: fs.String("data-dir", "", "data `directory` (default from config: ./data)"),
	}
}

// open opens the store and returns the application layer over it, for
// commands that manage tokens; close closes the store.
func (f storeFlags) open(ctx context.Context, fs *flag.FlagSet, log *slog.Logger) (svc *shop.Service, close func(), err error) {
	cfg, db, err := f.openStore(ctx, fs, log)
	if err != nil {
		return nil, nil, err
	}
	svc = shop.New(shop.Options{Store: db, Platforms: platformsOf(cfg, log), Logger: log})
	return svc, func() { svc.Close(); db.Close() }, nil
}

// openStore reads the config and opens the server's store, refusing to
// create one: a store made here would hold what no server reads.
func (f storeFlags) openStore(ctx context.Context, fs *flag.FlagSet, log *slog.Logger) (config.Config, *store.Store, error) {
	cfg, _, err := loadConfig(fs, *f.config)
	if err != nil {
		return cfg, nil, err
	}
	if *f.dataDir != "" {
		cfg.Server.DataDir = *f.dataDir
	}
	db, err := openStore(ctx, cfg, log, true)
	if noStore := (*store.NoStoreError)(nil); errors.As(err, &noStore) {
		return cfg, nil, fmt.Errorf("%w: pass --data-dir (or --config) naming the server's data folder, or start \"syncrules serve\" there once", err)
	}
	return cfg, db, err
}

// openStore opens the configured store (store.dsn, which the environment
// may set), else SQLite in the data directory. existing refuses to create
// an SQLite file.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, existing bool) (*store.Store, error) {
	return store.Open(ctx, store.Options{DSN: cfg.Store.DSN, DataDir: cfg.Server.DataDir, Existing: existing, Logger: log})
}

func tokenCreate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "token create", "--scope SCOPE [--scope SCOPE ...] [--name NAME]",
		"Create an API token with the given scopes and print it on stdout. It is shown only\n"+
			"this once: the store keeps only its hash.")
	var scopes repeated
	fs.Var(&scopes, "scope", "a `scope`: admin, shop:{id} or partner:{name}; repeat for more")
	name := fs.String("name", "", "what the token is for, shown by token list")
	sf := addStoreFlags(fs)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	_, probs := shop.CheckScopes("--scope", scopes)
	probs = append(probs, shop.CheckName("--name", *name)...)
	if len(probs) > 0 {
		for _, p := range probs {
			// CheckScopes points at a scope as field/index.
			field, index, found := strings.Cut(p.Field, "/")
			if i, err := strconv.Atoi(index); found && err == nil && i < len(scopes) {
				field = fmt.Sprintf("%s %q", field, scopes[i])
			}
			fmt.Fprintf(e.stderr, "syncrules token create: %s: %s\n", field, p.Detail)
		}
		return errUsage
	}
	svc, closeStore, err := sf.open(ctx, fs, quietLogger(e))
	if err != nil {
		return err
	}
	defer closeStore()
	t, err := svc.CreateToken(ctx, shop.Operator, *name, scopes)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, t.Secret)
	fmt.Fprintf(e.stderr, "created token %s with scopes %s; it is shown only once: keep it now.\n", t.ID, strings.Join(t.Scopes, " "))
	return nil
}

func tokenList(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "token list", "", "List the API tokens: id, scopes, name and when they were created.")
	sf := addStoreFlags(fs)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	svc, closeStore, err := sf.open(ctx, fs, quietLogger(e))
	if err != nil {
		return err
	}
	defer closeStore()
	list, err := svc.Tokens(ctx, shop.Operator)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSCOPES\tCREATED\tNAME")
	for _, t := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, strings.Join(t.Scopes, " "), shop.Timestamp(t.Created), t.Name)
	}
	return w.Flush()
}

func tokenRevoke(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "token revoke", "ID", "Revoke the token with this id (tok_…): it stops working at once.")
	sf := addStoreFlags(fs)
	pos, err := parseArgs(e, fs, args, 1)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fmt.Fprintln(e.stderr, "syncrules token revoke: which token? Give its id (see token list).")
		return errUsage
	}
	id := pos[0]
	svc, closeStore, err := sf.open(ctx, fs, quietLogger(e))
	if err != nil {
		return err
	}
	defer closeStore()
	if err := svc.RevokeToken(ctx, shop.Operator, id); shop.CodeOf(err) == shop.NotFound {
		return fmt.Errorf("no token %q (see token list)", id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "revoked %s\n", id)
	return nil
}

// quietLogger logs only warnings and errors, for commands whose output is
// their result.
func quietLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
