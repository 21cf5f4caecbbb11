// Package secret seals the shop credentials the host keeps (marketplace
// access tokens, webhook secrets) so that a copy of the database alone does
// not reveal them, and loads the key that seals them.
//
// A sealed value is AES-256-GCM with a random nonce:
//
//	+---------+-------------+-------------------------------+
//	| version | nonce       | ciphertext and tag            |
//	| 1 byte  | 12 bytes    | len(plaintext) + 16 bytes     |
//	+---------+-------------+-------------------------------+
//	  0x01
//
// The caller passes additional data that names where the value belongs
// (its shop and credential name); a value copied to another row then fails
// to open instead of handing one shop's secret to another.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

const (
	version   = 1
	nonceSize = 12
	tagSize   = 16
	overhead  = 1 + nonceSize + tagSize
)

// ErrOpen is the one error of Open: it does not say which check failed, and
// never shows the data.
var ErrOpen = errors.New("cannot open sealed value: the key is not the one that sealed it, or the data was altered or belongs to another record")

// Sealer seals and opens values with one key. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer using key, which must be KeySize bytes.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key is %d bytes, want %d (make one with: openssl rand -base64 32)", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad, in the layout of the package doc.
// A random nonce per value keeps repeated plaintexts from looking alike.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("read random nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// Open decrypts what Seal returned for the same aad. Any failure (another
// version, truncated data, another key, other aad, a flipped bit) is
// ErrOpen.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < overhead || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// KeyEnv is the environment variable LoadKey's envValue comes from.
const KeyEnv = "SYNCRULES_SECRET_KEY"

// KeyFile is the name of the key file in the data folder.
const KeyFile = "secret.key"

// maxKeyFile bounds what LoadKey reads, so a wrong file is refused rather
// than read whole.
const maxKeyFile = 1024

// LoadKey returns the sealing key and where it came from (for the log;
// never the key). A non-empty envValue (from KeyEnv) wins: 32 bytes as
// standard base64, with or without padding, or as 64 hex characters.
// Otherwise the key is dataDir/secret.key, made on first use with 32 random
// bytes, mode 0600. A key file others can read, or one that does not hold a
// key, is refused rather than replaced: values sealed with the old key would
// be lost.
func LoadKey(envValue, dataDir string) (key []byte, source string, err error) {
	if envValue != "" {
		key, err := decodeKey(envValue)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w; make a key with: openssl rand -base64 32", KeyEnv, err)
		}
		return key, "env " + KeyEnv, nil
	}
	if dataDir == "" {
		return nil, "", fmt.Errorf("no secret key: set %s (make one with: openssl rand -base64 32) or a data folder to keep %s in", KeyEnv, KeyFile)
	}
	path := filepath.Join(dataDir, KeyFile)
	if err := createKeyFile(dataDir, path); err != nil {
		return nil, "", err
	}
	key, err = readKeyFile(path)
	if err != nil {
		return nil, "", err
	}
	return key, path, nil
}

// decodeKey reads a key as 64 hex characters or as standard base64. Hex is
// tried first: 64 hex characters are also valid base64, of 48 bytes.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty: want 32 bytes as base64 or as 64 hex characters")
	}
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("not a key: want 32 bytes as base64 or as 64 hex characters")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	return key, nil
}

// createKeyFile makes the key file if there is none. The key is written to a
// temporary file and published with a hard link, which fails if the file
// exists: processes starting together then all read the one key that won,
// and none ever reads a half-written file. Where hard links are not
// supported it creates the file directly with O_EXCL.
func createKeyFile(dir, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data folder for %s: %w", KeyFile, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("read random bytes for %s: %w", path, err)
	}
	content := []byte(base64.StdEncoding.EncodeToString(key) + "\n")

	tmp, err := os.CreateTemp(dir, "."+KeyFile+"-*") // O_EXCL, mode 0600
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readKeyFile reads and checks the key file. The mode is checked on the
// opened file, so it is the file that is read.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open secret key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open secret key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret key %s is not a regular file: restore the key file, or set %s", path, KeyEnv)
	}
	// Windows has no such mode bits; its ACLs are the owner's business.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secret key %s is readable by others (mode %#o): chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read secret key %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("secret key %s is not a key (over %d bytes): restore it from a backup; only if nothing was sealed with it, delete it and a new one is made", path, maxKeyFile)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w: restore it from a backup; only if nothing was sealed with it, delete it and a new one is made", path, err)
	}
	return key, nil
}
