package secret_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/secret"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	return key
}

func newSealer(t testing.TB, key []byte) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := secret.NewSealer(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("NewSealer(%d bytes) error = %v, want one saying how to make a key", n, err)
		}
	}
}

func TestSealLayout(t *testing.T) {
	s := newSealer(t, newKey(t))
	plain := []byte("shpat_0123456789abcdef-very-secret")
	a, err := s.Seal(plain, []byte("shop:acme/shopify/access_token"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Seal(plain, []byte("shop:acme/shopify/access_token"))
	if len(a) != 1+12+len(plain)+16 || a[0] != 1 {
		t.Fatalf("sealed is %d bytes starting %#x, want %d starting 0x01", len(a), a[0], 1+12+len(plain)+16)
	}
	if bytes.Equal(a[1:13], b[1:13]) || bytes.Equal(a, b) {
		t.Error("two seals of one value share a nonce")
	}
	for _, sealed := range [][]byte{a, b} {
		for _, part := range [][]byte{plain, plain[:8], plain[len(plain)-8:], []byte("very-secret")} {
			if bytes.Contains(sealed, part) {
				t.Errorf("sealed output contains plaintext %q", part)
			}
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	key := newKey(t)
	s := newSealer(t, key)
	aad := []byte("shop:acme/tiktok/app_secret")
	plain := []byte("tiktok-secret")
	sealed, err := s.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open(sealed, aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	version2 := bytes.Clone(sealed)
	version2[0] = 2
	other := newSealer(t, newKey(t))
	for _, tt := range []struct {
		name   string
		s      *secret.Sealer
		sealed []byte
		aad    []byte
	}{
		{"other version", s, version2, aad},
		{"version 0", s, append([]byte{0}, sealed[1:]...), aad},
		{"empty", s, nil, aad},
		{"version only", s, sealed[:1], aad},
		{"no tag", s, sealed[:13], aad},
		{"truncated by one", s, sealed[:len(sealed)-1], aad},
		{"extra byte", s, append(bytes.Clone(sealed), 0), aad},
		{"other key", other, sealed, aad},
		{"other shop", s, sealed, []byte("shop:other/tiktok/app_secret")},
		{"no aad", s, sealed, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Open(tt.sealed, tt.aad)
			if err != secret.ErrOpen || got != nil {
				t.Fatalf("Open = %q, %v; want nil, ErrOpen", got, err)
			}
			if strings.Contains(err.Error(), string(plain)) || len(tt.sealed) > 0 && strings.Contains(err.Error(), hex.EncodeToString(tt.sealed)) {
				t.Fatal("error shows the data")
			}
		})
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := newSealer(t, newKey(t))
	rapid.Check(t, func(t *rapid.T) {
		plain := rapid.SliceOf(rapid.Byte()).Draw(t, "plaintext")
		aad := rapid.SliceOf(rapid.Byte()).Draw(t, "aad")
		sealed, err := s.Seal(plain, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != len(plain)+29 {
			t.Fatalf("sealed is %d bytes, want %d", len(sealed), len(plain)+29)
		}
		got, err := s.Open(sealed, aad)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %x, %v; want %x", got, err, plain)
		}
	})
}

func TestBitFlipFailsToOpen(t *testing.T) {
	s := newSealer(t, newKey(t))
	rapid.Check(t, func(t *rapid.T) {
		plain := rapid.SliceOf(rapid.Byte()).Draw(t, "plaintext")
		aad := rapid.SliceOfN(rapid.Byte(), 1, 64).Draw(t, "aad")
		sealed, err := s.Seal(plain, aad)
		if err != nil {
			t.Fatal(err)
		}
		inAAD := rapid.Bool().Draw(t, "flip aad")
		target := sealed
		if inAAD {
			target = aad
		}
		bit := rapid.IntRange(0, 8*len(target)-1).Draw(t, "bit")
		target[bit/8] ^= 1 << (bit % 8)
		if got, err := s.Open(sealed, aad); err != secret.ErrOpen {
			t.Fatalf("Open after flipping bit %d (aad %v) = %x, %v; want ErrOpen", bit, inAAD, got, err)
		}
	})
}

func TestConcurrentSealOpen(t *testing.T) {
	s := newSealer(t, newKey(t))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 200 {
				plain := []byte(strings.Repeat("x", i+j))
				aad := []byte{byte(i), byte(j)}
				sealed, err := s.Seal(plain, aad)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Open(sealed, aad); err != nil || !bytes.Equal(got, plain) {
					t.Errorf("Open = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	s := newSealer(f, bytes.Repeat([]byte{7}, 32))
	good, _ := s.Seal([]byte("value"), []byte("aad"))
	f.Add(good, []byte("aad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte("aad"))
	f.Add(make([]byte, 29), []byte(nil))
	f.Add(append([]byte{2}, good[1:]...), []byte("aad"))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		got, err := s.Open(sealed, aad)
		if err != nil {
			if err != secret.ErrOpen || got != nil {
				t.Fatalf("Open = %x, %v; want nil, ErrOpen", got, err)
			}
			return
		}
		if len(sealed) != len(got)+29 || sealed[0] != 1 {
			t.Fatalf("opened %d bytes from %d sealed bytes starting %#x", len(got), len(sealed), sealed[0])
		}
	})
}

func TestLoadKeyEnv(t *testing.T) {
	key := newKey(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		name, env string
	}{
		{"base64 padded", base64.StdEncoding.EncodeToString(key)},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(key)},
		{"hex lower", hex.EncodeToString(key)},
		{"hex upper", strings.ToUpper(hex.EncodeToString(key))},
		{"trailing newline", base64.StdEncoding.EncodeToString(key) + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, source, err := secret.LoadKey(tt.env, dir)
			if err != nil || !bytes.Equal(got, key) || source != "env SYNCRULES_SECRET_KEY" {
				t.Fatalf("LoadKey = %x, %q, %v; want the key from env SYNCRULES_SECRET_KEY", got, source, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !os.IsNotExist(err) {
		t.Errorf("a key in the environment made a key file: %v", err)
	}

	for _, tt := range []struct {
		name, env string
	}{
		{"short base64", base64.StdEncoding.EncodeToString(key[:16])},
		{"long base64", base64.StdEncoding.EncodeToString(append(key, 1))},
		{"base64url", strings.Repeat("-_", 22)},
		{"short hex", hex.EncodeToString(key[:31])},
		{"not a key", "correct horse battery staple"},
		{"hex with junk", strings.Repeat("zz", 32)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, source, err := secret.LoadKey(tt.env, dir)
			if err == nil {
				t.Fatalf("LoadKey(%q) = %x, %q; want an error", tt.env, got, source)
			}
			msg := err.Error()
			if !strings.Contains(msg, "SYNCRULES_SECRET_KEY") || !strings.Contains(msg, "openssl rand -base64 32") {
				t.Errorf("error %q does not name the variable and how to make a key", msg)
			}
			if strings.Contains(msg, tt.env) {
				t.Errorf("error %q shows the value", msg)
			}
		})
	}
}

func TestLoadKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	path := filepath.Join(dir, "secret.key")
	key, source, err := secret.LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 || source != path {
		t.Fatalf("LoadKey = %d bytes from %q, want 32 from %q", len(key), source, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if want := base64.StdEncoding.EncodeToString(key) + "\n"; string(b) != want {
		t.Errorf("key file holds %q, want %q", b, want)
	}
	again, _, err := secret.LoadKey("", dir)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second LoadKey = %x, %v; want the same key", again, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data folder holds %d entries, want only secret.key", len(entries))
	}
}

func TestLoadKeyFileRefusals(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	key := newKey(t)
	for _, tt := range []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr []string
	}{
		{"readable by others", base64.StdEncoding.EncodeToString(key), 0o644, []string{"readable by others", "chmod 600 "}},
		{"group writable", base64.StdEncoding.EncodeToString(key), 0o620, []string{"chmod 600 "}},
		{"empty", "", 0o600, []string{"empty", "restore it"}},
		{"blank", "\n", 0o600, []string{"empty", "restore it"}},
		{"short", base64.StdEncoding.EncodeToString(key[:20]), 0o600, []string{"20 bytes", "restore it"}},
		{"garbage", "hello world\n", 0o600, []string{"not a key"}},
		{"huge", strings.Repeat("A", 5000), 0o600, []string{"not a key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secret.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, _, err := secret.LoadKey("", dir)
			if err == nil {
				t.Fatalf("LoadKey = %x, want an error", got)
			}
			for _, w := range append(tt.wantErr, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(tt.content) >= 8 && strings.Contains(err.Error(), tt.content[:8]) {
				t.Errorf("error %q shows the file's content", err)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Error("refused key file was changed")
			}
		})
	}
}

func TestLoadKeyHexFile(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _, err := secret.LoadKey("", dir)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("LoadKey = %x, %v; want %x", got, err, key)
	}
}

func TestLoadKeyNoDataDir(t *testing.T) {
	_, _, err := secret.LoadKey("", "")
	if err == nil || !strings.Contains(err.Error(), "SYNCRULES_SECRET_KEY") {
		t.Fatalf("LoadKey with neither = %v, want an error naming SYNCRULES_SECRET_KEY", err)
	}
}

// Replicas starting together on a fresh data folder all get the one key.
func TestLoadKeyConcurrentFirst(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		const n = 16
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				keys[i], _, errs[i] = secret.LoadKey("", dir)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("LoadKey %d: %v", i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("LoadKey %d got another key than LoadKey 0", i)
			}
		}
		b, _ := os.ReadFile(filepath.Join(dir, "secret.key"))
		if want := base64.StdEncoding.EncodeToString(keys[0]) + "\n"; string(b) != want {
			t.Fatal("key file does not hold the key returned")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("data folder holds %d entries, want only secret.key", len(entries))
		}
	}
}

func TestErrOpenIs(t *testing.T) {
	s := newSealer(t, newKey(t))
	_, err := s.Open([]byte("junk"), nil)
	if !errors.Is(err, secret.ErrOpen) {
		t.Fatalf("err = %v, want ErrOpen", err)
	}
}
