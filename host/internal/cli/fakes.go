package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
)

// fakesCmd serves a fake Shopify and a fake TikTok Shop until it is
// stopped: the demo's platforms.
func fakesCmd(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "fakes", "[flags]",
		"Serve a fake Shopify and a fake TikTok Shop on loopback, with one generated catalog\n"+
			"linked by seller SKU, until SIGINT or SIGTERM. Each has a control API under /_control/.")
	shopifyListen := fs.String("shopify-listen", "127.0.0.1:8081", "`address` of the fake Shopify (loopback)")
	tiktokListen := fs.String("tiktok-listen", "127.0.0.1:8082", "`address` of the fake TikTok Shop, its API and auth host (loopback)")
	size := fs.String("catalog", "20,3,3", "catalog size: `N,M,K` products, variants per product and locations")
	seed := fs.Uint64("seed", 1, "catalog `seed`: the same seed gives the same catalog")
	webhookURL := fs.String("webhook-url", "", "`URL` that receives the fake Shopify's webhooks (none if empty)")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	n, err := parseCatalogSize(*size)
	if err != nil {
		fmt.Fprintf(e.stderr, "syncrules fakes: --catalog: %v\n", err)
		return errUsage
	}
	for _, addr := range []string{*shopifyListen, *tiktokListen} {
		if err := checkLoopback(addr); err != nil {
			fmt.Fprintf(e.stderr, "syncrules fakes: %v\n", err)
			return errUsage
		}
	}
	cat, err := catalog.Generate(catalog.Options{Products: n[0], Variants: n[1], Locations: n[2], Seed: *seed})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: logTime}))
	shopify := shopifyfake.New(shopifyfake.Options{Catalog: cat, WebhookURL: *webhookURL, Logger: log})
	tiktok := tiktokfake.New(tiktokfake.Options{Catalog: cat, Logger: log})
	if err := shopify.Start(*shopifyListen); err != nil {
		return fmt.Errorf("fake Shopify: %w", err)
	}
	defer shopify.Close()
	if err := tiktok.Start(*tiktokListen); err != nil {
		return fmt.Errorf("fake TikTok Shop: %w", err)
	}
	defer tiktok.Close()

	creds, _ := json.Marshal(map[string]map[string]string{
		"shopify": {"access_token": shopify.AccessToken(), "webhook_secret": shopify.WebhookSecret()},
		"tiktok": {"app_key": tiktok.AppKey(), "app_secret": tiktok.AppSecret(),
			"access_token": tiktok.Tokens().AccessToken, "refresh_token": tiktok.Tokens().RefreshToken, "shop_cipher": tiktok.ShopCipher()},
	})
	su, tu := shopify.URL(), tiktok.URL()
	fmt.Fprintf(e.stdout, `fake Shopify      %s  shop %s, control %s/_control/
fake TikTok Shop  %s  API and auth host, control %s/_control/
catalog           %d products × %d variants × %d locations, seed %d: %d linked SKUs, %d duplicate, %d Shopify-only, %d TikTok-only

Point syncrules at them:
  SYNCRULES_SHOPIFY_BASE_URL=%s
  SYNCRULES_TIKTOK_BASE_URL=%s
  SYNCRULES_TIKTOK_AUTH_BASE_URL=%s

The shop's credentials (PUT /v1/shops/%s/credentials; fakes' own, not secrets):
  %s
`, su, shopify.ShopDomain(), su, tu, tu, n[0], n[1], n[2], *seed, len(cat.Links), len(cat.DuplicateSKUs),
		len(cat.ShopifyOnly), len(cat.TikTokOnly), su, tu, tu, shopify.ShopDomain(), creds)
	<-ctx.Done()
	log.Info("stopping the fakes")
	return nil
}

// parseCatalogSize reads "N,M,K".
func parseCatalogSize(s string) ([3]int, error) {
	var out [3]int
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("%q: want three numbers N,M,K (products, variants per product, locations)", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return out, fmt.Errorf("%q: %q is not a whole number of at least 1", s, p)
		}
		out[i] = n
	}
	return out, nil
}

// checkLoopback refuses an address beyond loopback: the fakes accept
// known credentials and are for one machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: the fakes listen on loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}
