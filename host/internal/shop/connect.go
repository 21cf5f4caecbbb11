package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// Connecting a shop reads its locations and warehouses from Shopify and
// TikTok Shop, imports both catalogs and links them by seller SKU (see
// linkStored). Connect checks the credentials while the caller waits,
// then does the rest in the background, as a run whose progress
// SyncStatus shows.

// RunKindConnect is the kind of a connect run.
const RunKindConnect = "connect"

// The states of a shop's settings in SyncStatus.
const (
	SettingsNone   = "none"   // none stored
	SettingsOK     = "ok"     // they validate against the shop
	SettingsBroken = "broken" // they no longer do: Problems say where
)

// Why a run was interrupted, by Close or by a process that stopped.
const (
	interruptedByClose = "the server stopped during the run; connect again"
	interruptedStale   = "the run stopped making progress (the server running it stopped); connect again"
)

// SyncStatus is a shop's connection, the state of its settings and its
// latest run.
type SyncStatus struct {
	Shop          string        `json:"shop"`
	ShopifyDomain string        `json:"shopify_domain,omitempty"`
	Connected     bool          `json:"connected"`
	Settings      SettingsState `json:"settings"`
	// Run is the latest run.
	Run *RunView `json:"run,omitempty"`
	// Catalog counts the links of the latest run that succeeded: the
	// catalog as it stands while another runs or after one failed.
	Catalog *LinkCounts `json:"catalog,omitempty"`
	// Sync is where the shop's publications stand.
	Sync SyncState `json:"sync"`
}

// SettingsState says whether a shop's stored settings still validate
// against its locations and warehouses, which a connect may change.
type SettingsState struct {
	State    string               `json:"state"` // SettingsNone, SettingsOK or SettingsBroken
	Version  int64                `json:"version,omitempty"`
	Problems []compute.FieldError `json:"problems,omitempty"` // when broken: what no longer validates
}

// RunView is a run as callers see it.
type RunView struct {
	ID    int64    `json:"id"`
	Kind  string   `json:"kind"`
	State RunState `json:"state"` // a stale running run shows "interrupted"
	Phase RunPhase `json:"phase"`
	// Done and Total are the phase's progress; Total is 0 while unknown.
	Done     int64       `json:"done"`
	Total    int64       `json:"total"`
	Counts   *LinkCounts `json:"counts,omitempty"`
	Error    string      `json:"error,omitempty"`
	Started  Timestamp   `json:"started"`
	Updated  Timestamp   `json:"updated"`
	Finished *Timestamp  `json:"finished,omitempty"`
}

// viewRun shows a run as of now: a running run whose progress stopped
// moving belongs to a process that is gone.
func viewRun(r Run, now time.Time) RunView {
	v := RunView{ID: r.ID, Kind: r.Kind, State: r.State, Phase: r.Phase, Done: r.Done, Total: r.Total,
		Error: r.Error, Started: Timestamp(r.Started), Updated: Timestamp(r.Updated)}
	if r.State == RunRunning && now.Sub(r.Updated) > StaleRunAfter {
		v.State, v.Error = RunInterrupted, interruptedStale
		if r.Kind == RunKindResync || r.Kind == RunKindSettings {
			// The queue's job may still catch up: it is retried, or
			// taken back from a crashed server.
			v.Error = "the run made no progress for a while: its job is waiting for a retry, or the server running it stopped " +
				"(a server takes the job back at start on SQLite, 2 × job_timeout + 1 min after it started on PostgreSQL); " +
				"its items stay pending and the run goes on then; resync again if it does not move"
		}
	}
	if r.State == RunSucceeded {
		c := r.Counts
		v.Counts = &c
	}
	if !r.Finished.IsZero() {
		f := Timestamp(r.Finished)
		v.Finished = &f
	}
	return v
}

// requiredCredentials are the credentials connect needs, as
// "group/name". The shop cipher is not: connect finds it when the tokens
// are for one shop.
var requiredCredentials = []string{
	"shopify/access_token",
	"tiktok/app_key", "tiktok/app_secret", "tiktok/access_token", "tiktok/refresh_token",
}

// platformClients are the clients of a shop's run.
type platformClients struct {
	shopify *shopify.Client
	tiktok  *tiktok.Shop
}

// Connect checks the shop's credentials against Shopify and TikTok Shop
// and starts a connect run in the background, which it returns. Admins
// and the shop may.
//
// A Shopify domain or credential not set, or one a platform refuses, is a
// CredentialsRefused error whose Fields name it (/shopify_domain,
// /shopify/access_token, /tiktok/…) and say why; nothing is changed then.
// A run still running is a Conflict; a platform that cannot be reached is
// Unavailable.
func (s *Service) Connect(ctx context.Context, p auth.Principal, id string) (RunView, error) {
	if err := CheckShop(p, id); err != nil {
		return RunView{}, err
	}
	if s.isClosed() {
		return RunView{}, errClosed()
	}
	sh, err := s.store.Shop(ctx, id)
	if err != nil {
		return RunView{}, storeError(id, err)
	}
	creds, err := s.openCredentials(ctx, id)
	if err != nil {
		return RunView{}, err
	}
	var missing []compute.FieldError
	if sh.ShopifyDomain == "" {
		missing = append(missing, compute.FieldError{Field: "/shopify_domain",
			Detail: fmt.Sprintf("is not set: give the shop its myshopify domain (PUT /v1/shops/%s)", id)})
	}
	for _, name := range requiredCredentials {
		if creds[name] == "" {
			missing = append(missing, compute.FieldError{Field: "/" + name,
				Detail: fmt.Sprintf("is not set: store it with the shop's credentials (PUT /v1/shops/%s/credentials)", id)})
		}
	}
	if len(missing) > 0 {
		return RunView{}, &Error{Code: CredentialsRefused, Fields: missing,
			Message: fmt.Sprintf("Shop %q cannot be connected yet: set the fields listed.", id)}
	}
	if err := s.checkNoConnectBlocker(ctx, id); err != nil {
		return RunView{}, err
	}
	clients, err := s.checkPlatforms(ctx, sh, creds)
	if err != nil {
		return RunView{}, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return RunView{}, errClosed()
	}
	s.runs.Add(1)
	s.mu.Unlock()
	s.supersedeRepublish(ctx, id)
	run, err := s.store.StartRun(ctx, Run{Shop: id, Kind: RunKindConnect, State: RunRunning, Phase: PhaseLocations, Token: p.TokenID})
	if err != nil {
		s.runs.Done()
		if errors.Is(err, ErrExists) {
			// Another connect started since checkNoRun looked.
			if err := s.checkNoRun(ctx, id); err != nil {
				return RunView{}, err
			}
			return RunView{}, Errorf(Conflict, "Another run of shop %q started meanwhile: see it with GET /v1/shops/%[1]s/sync.", id)
		}
		return RunView{}, storeError(id, err)
	}
	s.logChange("connect started", p, "shop", id, "run", run.ID)
	go s.connectRun(run, clients)
	return viewRun(run, run.Updated), nil
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func errClosed() error {
	return Errorf(Unavailable, "The server is shutting down; connect again once it is back.")
}

// checkNoRun is a Conflict naming the shop's run if one is running.
func (s *Service) checkNoRun(ctx context.Context, id string) error {
	r, err := s.store.LatestRun(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return storeError(id, err)
	}
	if v := viewRun(r, time.Now()); v.State == RunRunning {
		return Errorf(Conflict, "Run %d of shop %q is still running (%s, started %s): wait for it to finish (GET /v1/shops/%[2]s/sync).",
			r.ID, id, progressText(v), v.Started)
	}
	return nil
}

// progressText says where a run is, in words.
func progressText(v RunView) string {
	if v.Total > 0 {
		return fmt.Sprintf("phase %s, %d of %d", v.Phase, v.Done, v.Total)
	}
	return fmt.Sprintf("phase %s, %d done", v.Phase, v.Done)
}

// checkPlatforms asks each platform whether it takes the shop's
// credentials, and returns the clients of the run. Both are asked, so that
// one answer names every credential to fix. A TikTok shop cipher not
// stored is stored when the tokens are for one shop only.
func (s *Service) checkPlatforms(ctx context.Context, sh Shop, creds map[string]string) (platformClients, error) {
	var refused []compute.FieldError
	var unreachable []string

	sopt := s.platforms.Shopify
	sopt.Domain, sopt.AccessToken = sh.ShopifyDomain, creds["shopify/access_token"]
	sopt.Pacer = s.shopifyPacer(sh.ShopifyDomain)
	if sopt.Logger == nil {
		sopt.Logger = s.log
	}
	sc, err := shopify.New(sopt)
	if err != nil {
		return platformClients{}, fmt.Errorf("shop %q: the Shopify client: %w", sh.ID, err)
	}
	info, err := sc.Shop(ctx)
	switch {
	case err == nil && !strings.EqualFold(info.MyshopifyDomain, sh.ShopifyDomain):
		refused = append(refused, compute.FieldError{Field: "/shopify_domain",
			Detail: fmt.Sprintf("Shopify says the access token is the shop %q's, not this domain's", info.MyshopifyDomain)})
	case err != nil:
		if fe, ok := shopifyRefusal(err); ok {
			refused = append(refused, fe)
		} else if ctx.Err() != nil {
			return platformClients{}, ctx.Err()
		} else {
			unreachable = append(unreachable, fmt.Sprintf("Shopify (%v)", err))
		}
	}

	tc, err := s.tiktokClient(creds["tiktok/app_key"], creds["tiktok/app_secret"])
	if err != nil {
		return platformClients{}, fmt.Errorf("shop %q: the TikTok Shop client: %w", sh.ID, err)
	}
	tokens := &sealedTokens{s: s, shop: sh.ID}
	cipher := creds["tiktok/shop_cipher"]
	shops, err := tc.Shop("", tokens).AuthorizedShops(ctx)
	storeCipher := false
	switch {
	case err != nil:
		if fe, ok := tiktokRefusal(err); ok {
			refused = append(refused, fe)
		} else if ctx.Err() != nil {
			return platformClients{}, ctx.Err()
		} else {
			unreachable = append(unreachable, fmt.Sprintf("TikTok Shop (%v)", err))
		}
	case cipher != "":
		if !authorizedCipher(shops, cipher) {
			refused = append(refused, compute.FieldError{Field: "/tiktok/shop_cipher",
				Detail: "is not the cipher of a shop the tokens are authorised for; they are for " + nameShops(shops)})
		}
	case len(shops) == 1:
		cipher, storeCipher = shops[0].Cipher, true
	case len(shops) == 0:
		refused = append(refused, compute.FieldError{Field: "/tiktok/access_token",
			Detail: "TikTok Shop says no shop has authorised the app for these tokens: the seller must authorise it"})
	default:
		refused = append(refused, compute.FieldError{Field: "/tiktok/shop_cipher",
			Detail: fmt.Sprintf("is not set, and the tokens are authorised for %s: store the cipher of the shop to connect", nameShops(shops))})
	}

	switch {
	case len(refused) > 0:
		return platformClients{}, &Error{Code: CredentialsRefused, Fields: refused,
			Message: fmt.Sprintf("Shop %q was not connected: a platform refused its settings or credentials, at the fields listed; fix them and connect again.", sh.ID)}
	case len(unreachable) > 0:
		return platformClients{}, Errorf(Unavailable, "Shop %q was not connected: %s could not be reached or failed; retry later.",
			sh.ID, strings.Join(unreachable, " and "))
	}
	if storeCipher {
		sealed, err := s.sealCredentials(sh.ID, "tiktok", map[string]string{"shop_cipher": cipher})
		if err != nil {
			return platformClients{}, err
		}
		if err := s.store.UpdateCredentials(ctx, sh.ID, sealed); err != nil {
			return platformClients{}, storeError(sh.ID, err)
		}
	}
	return platformClients{shopify: sc, tiktok: tc.Shop(cipher, tokens)}, nil
}

// shopifyRefusal is the field to fix when Shopify refused the shop's
// domain or token.
func shopifyRefusal(err error) (compute.FieldError, bool) {
	var se *shopify.StatusError
	var qe *shopify.QueryError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized:
		return compute.FieldError{Field: "/shopify/access_token",
			Detail: "Shopify answered 401: it does not take this access token for the shop (wrong, revoked, or the app was uninstalled)"}, true
	case errors.As(err, &se) && se.StatusCode == http.StatusForbidden,
		errors.As(err, &qe) && qe.HasCode("ACCESS_DENIED"):
		return compute.FieldError{Field: "/shopify/access_token",
			Detail: "Shopify denied access: the app lacks a scope connect needs (read_products, read_inventory, read_locations)"}, true
	case errors.As(err, &se) && se.StatusCode == http.StatusNotFound:
		return compute.FieldError{Field: "/shopify_domain", Detail: "Shopify answered 404: no shop has this domain"}, true
	}
	return compute.FieldError{}, false
}

// tiktokRefusal is the field to fix when TikTok Shop refused the shop's
// app or tokens. A rate limit, TikTok's own failure, a connection that
// failed or a clock TikTok refuses is not a refusal.
func tiktokRefusal(err error) (compute.FieldError, bool) {
	var ae *tiktok.APIError
	switch {
	case errors.Is(err, tiktok.ErrReauthorize):
		return compute.FieldError{Field: "/tiktok/refresh_token",
			Detail: "the access token had expired and TikTok Shop refused the refresh token: the seller must authorise the app again; store the new tokens"}, true
	case tiktok.IsTransient(err), errors.Is(err, tiktok.ErrBadTimestamp), !errors.As(err, &ae):
		return compute.FieldError{}, false
	case errors.Is(err, tiktok.ErrBadSign):
		return compute.FieldError{Field: "/tiktok/app_secret",
			Detail: "TikTok Shop answered 106001 (bad sign): the app secret is not the app key's"}, true
	case ae.Code == 105001:
		return compute.FieldError{Field: "/tiktok/access_token",
			Detail: "TikTok Shop answered 105001: it does not know this access token"}, true
	}
	return compute.FieldError{Field: "/tiktok",
		Detail: fmt.Sprintf("TikTok Shop refused the credentials (code %d, HTTP %d: %s): check app_key, app_secret and access_token", ae.Code, ae.Status, ae.Message)}, true
}

func authorizedCipher(shops []tiktok.AuthorizedShop, cipher string) bool {
	for _, sh := range shops {
		if sh.Cipher == cipher {
			return true
		}
	}
	return false
}

// nameShops lists authorised shops by name and id (never their ciphers,
// which are credentials), at most maxNamed.
func nameShops(shops []tiktok.AuthorizedShop) string {
	if len(shops) == 0 {
		return "no shop"
	}
	names := make([]string, 0, min(len(shops), maxNamed))
	for _, sh := range shops[:min(len(shops), maxNamed)] {
		names = append(names, fmt.Sprintf("%q (id %s, region %s)", sh.Name, sh.ID, sh.Region))
	}
	out := fmt.Sprintf("%d shops: %s", len(shops), strings.Join(names, ", "))
	if len(shops) == 1 {
		out = "1 shop: " + names[0]
	}
	if len(shops) > maxNamed {
		out += fmt.Sprintf(" and %d more", len(shops)-maxNamed)
	}
	return out
}

// SyncStatus returns a shop's connection, whether its stored settings
// still validate against it, and its latest run. Admins and the shop may.
func (s *Service) SyncStatus(ctx context.Context, p auth.Principal, id string) (SyncStatus, error) {
	if err := CheckShop(p, id); err != nil {
		return SyncStatus{}, err
	}
	sh, st, err := s.store.ShopSettings(ctx, id)
	if err != nil {
		return SyncStatus{}, storeError(id, err)
	}
	out := SyncStatus{Shop: id, ShopifyDomain: sh.ShopifyDomain, Connected: sh.Connected, Settings: SettingsState{State: SettingsNone}}
	if out.Sync, err = s.syncState(ctx, sh); err != nil {
		return SyncStatus{}, err
	}
	if st.Version > 0 {
		settings, err := DecodeSettings(st.Doc)
		if err != nil {
			return SyncStatus{}, err
		}
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		err = s.checkSettings(cctx, sh, settings)
		cancel()
		var in *compute.InputError
		switch {
		case errors.As(err, &in):
			out.Settings = SettingsState{State: SettingsBroken, Version: st.Version, Problems: in.Errors}
		case err != nil:
			return SyncStatus{}, err
		default:
			out.Settings = SettingsState{State: SettingsOK, Version: st.Version}
		}
	}
	run, err := s.store.LatestRun(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return SyncStatus{}, storeError(id, err)
	default:
		v := viewRun(run, time.Now())
		out.Run = &v
		out.Catalog = v.Counts
	}
	if out.Run != nil && out.Catalog == nil {
		// The catalog as the last successful connect linked it stays
		// until another succeeds: show its counts meanwhile.
		last, err := s.store.LatestRunIn(ctx, id, RunSucceeded)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return SyncStatus{}, storeError(id, err)
		default:
			c := last.Counts
			out.Catalog = &c
		}
	}
	return out, nil
}

// checkLinkStatus refuses a status filter that is not a link status.
func checkLinkStatus(status LinkStatus) error {
	switch status {
	case "", LinkLinked, LinkUnmatched, LinkConflict:
		return nil
	}
	return &Error{Code: Invalid, Message: "The status filter is not a link status.",
		Fields: []compute.FieldError{{Field: "status", Detail: fmt.Sprintf(`must be %q, %q or %q`, LinkLinked, LinkUnmatched, LinkConflict)}}}
}

// VariantPage returns at most limit of the shop's imported Shopify
// variants with the status given ("": all) whose ids sort after after
// ("": from the first), by id, with their links, and whether more follow.
// Admins and the shop may.
func (s *Service) VariantPage(ctx context.Context, p auth.Principal, id string, status LinkStatus, after string, limit int) ([]Variant, bool, error) {
	return catalogPage(ctx, s, p, id, status, after, limit, s.store.VariantsAfter)
}

// TikTokSKUPage is VariantPage for the shop's imported TikTok Shop SKUs.
func (s *Service) TikTokSKUPage(ctx context.Context, p auth.Principal, id string, status LinkStatus, after string, limit int) ([]TikTokSKU, bool, error) {
	return catalogPage(ctx, s, p, id, status, after, limit, s.store.TikTokSKUsAfter)
}

func catalogPage[T any](ctx context.Context, s *Service, p auth.Principal, id string, status LinkStatus, after string, limit int,
	read func(ctx context.Context, shop string, status LinkStatus, after string, limit int) ([]T, error)) ([]T, bool, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, false, err
	}
	if err := checkLinkStatus(status); err != nil {
		return nil, false, err
	}
	// A shop that does not exist is not found, not an empty catalog.
	if _, err := s.store.Shop(ctx, id); err != nil {
		return nil, false, storeError(id, err)
	}
	limit = pageSize(limit, DefaultPageSize, MaxPageSize)
	list, err := read(ctx, id, status, after, limit+1)
	if err != nil {
		return nil, false, storeError(id, err)
	}
	list, more := cut(list, limit)
	return list, more, nil
}
