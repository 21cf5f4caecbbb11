package shop

import (
	"context"
	"time"

	"github.com/syncrules/syncrules/host/internal/registry"
)

// Shop is a merchant's shop: its Shopify locations and TikTok Shop
// warehouses, whose stock the rules publish.
type Shop struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ShopifyDomain is the shop's permanent myshopify domain, unique
	// across shops: webhooks find their shop by it. "" until set.
	ShopifyDomain string      `json:"shopify_domain,omitempty"`
	Locations     []Location  `json:"locations"`
	Warehouses    []Warehouse `json:"warehouses"`
	// Connected: the locations and warehouses come from the platforms,
	// read by the last connect; a PUT may not edit them. Set by the store.
	Connected bool `json:"connected"`
	// SyncPaused: the shop's sync publishes nothing until resumed; its
	// webhooks still leave items pending. Set by the store; shown by
	// GET .../sync.
	SyncPaused bool `json:"-"`
	// SyncUnblocks counts the changes that may unblock the shop's sync
	// (connect, settings, credentials, resume); SyncBlocked: the sync
	// found the shop blocked since the last. Set by the store.
	SyncUnblocks int64     `json:"-"`
	SyncBlocked  bool      `json:"-"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Location is a Shopify location. Only active locations count.
type Location struct {
	ID     string `json:"id"`
	Active bool   `json:"active"`
}

// Warehouse is a TikTok Shop pickup warehouse. Only active ones get
// stock; the default one is what the default mapping feeds.
type Warehouse struct {
	ID      string `json:"id"`
	Active  bool   `json:"active"`
	Default bool   `json:"default"`
}

// StoredSettings is one version of a shop's settings as stored: Doc is the
// settings document this package encodes (EncodeSettings) and reads back
// (DecodeSettings).
type StoredSettings struct {
	Shop    string
	Version int64  // 0: none stored yet
	Doc     []byte // nil when Version is 0
	Created time.Time
	Token   string // id of the token that wrote it
}

// SettingsWrite is a write of a shop's settings.
type SettingsWrite struct {
	Doc []byte
	// Refs are the plugin versions Doc references; they replace the
	// shop's.
	Refs []PluginRef
	// Require are the uploaded versions among Refs: the write happens
	// only if each is still stored when it commits (ErrPluginGone), and a
	// delete of one waits for it.
	Require []PluginRef
	Token   string
	// IfMatch makes the write fail with ErrVersionMismatch unless the
	// current version is IfVersion (0: none stored yet); without it the
	// last write wins.
	IfMatch   bool
	IfVersion int64
	// Check, if not nil, sees the shop the settings are for; its error
	// aborts the write and is returned as is. It runs before the write
	// transaction, so that a slow check (it runs plugins) holds no lock;
	// the write happens only if the shop is still the one it saw, else the
	// check runs again.
	Check func(Shop) error
}

// PluginRef names a plugin version.
type PluginRef struct{ Name, Version string }

// SealedCredential is one credential of a shop, sealed: the store never
// sees the plaintext.
type SealedCredential struct {
	Group, Name string // Group is "shopify" or "tiktok"
	Sealed      []byte
	Updated     time.Time // set by the store when zero
}

// Token is a stored API token: its SHA-256 hash, never the token.
type Token struct {
	ID, Name string
	Scopes   []string
	Hash     [32]byte
	Created  time.Time // set by the store when zero
}

// TokenKey is where a token sits in the list of tokens, oldest first:
// tokens created in the same microsecond are in id order.
type TokenKey struct {
	Created time.Time
	ID      string
}

// Key is the token's place in the list.
func (t Token) Key() TokenKey { return TokenKey{Created: t.Created, ID: t.ID} }

// Store is what the service keeps its state in; package store implements
// it on SQLite and PostgreSQL. Errors wrap ErrNotFound, ErrVersionMismatch,
// ErrExists, ErrBusy and ErrInvalidText where they apply.
type Store interface {
	Ping(ctx context.Context) error
	CatalogStore
	ControlStore

	// PutShop creates or replaces a shop: name, domain (ErrExists if
	// another shop has it), locations and warehouses; Connected is kept
	// (false for a new shop). check, if not nil, sees the
	// shop's current settings before the write; see SettingsWrite.Check.
	PutShop(ctx context.Context, shop Shop, check func(current StoredSettings) error) (created bool, err error)
	Shop(ctx context.Context, id string) (Shop, error)
	// ShopsAfter, TokensAfter and PluginsAfter return one page of a list:
	// at most limit entries (plugin names for PluginsAfter) after the key
	// given, in the order of that key.
	ShopsAfter(ctx context.Context, after string, limit int) ([]Shop, error)
	DeleteShop(ctx context.Context, id string) error

	// ShopSettings returns a shop and its current settings as of one
	// instant.
	ShopSettings(ctx context.Context, id string) (Shop, StoredSettings, error)
	Settings(ctx context.Context, shop string) (StoredSettings, error)
	PutSettings(ctx context.Context, shop string, w SettingsWrite) (StoredSettings, error)
	SettingsHistory(ctx context.Context, shop string, before int64, limit int) ([]StoredSettings, error)
	PluginUsers(ctx context.Context, name, version string) ([]string, error)

	ReplaceCredentials(ctx context.Context, shop string, groups map[string][]SealedCredential) error
	Credentials(ctx context.Context, shop string) ([]SealedCredential, error)
	DeleteCredentials(ctx context.Context, shop string) error

	CreateToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash [32]byte) (Token, error)
	Tokens(ctx context.Context) ([]Token, error)
	TokensAfter(ctx context.Context, after TokenKey, limit int) ([]Token, error)
	DeleteToken(ctx context.Context, id string) error

	SessionStore

	ClaimPlugin(ctx context.Context, name, partner string) (owner string, err error)
	PluginOwner(ctx context.Context, name string) (string, error)
	// PluginsAfter has every stored version of each name it returns;
	// owners not nil keeps the names those partners own.
	PluginsAfter(ctx context.Context, after string, owners []string, limit int) ([]registry.Info, error)
}
