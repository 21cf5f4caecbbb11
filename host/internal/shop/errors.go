package shop

import (
	"errors"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/compute"
)

// Code classifies an error of this package for the caller: package problem
// maps each code to one HTTP status, and the command line to an exit code.
type Code string

// The codes of Error.
const (
	Invalid      Code = "invalid"      // the input breaks a rule; Fields say where
	NotFound     Code = "not_found"    // no such thing, or one the caller may not know of
	Conflict     Code = "conflict"     // the change clashes with what is stored
	Forbidden    Code = "forbidden"    // the principal may not do this
	Unauthorized Code = "unauthorized" // no principal: the token is missing, unknown or revoked
	Precondition Code = "precondition" // an If-Match that no longer holds
	TooLarge     Code = "too_large"    // over a configured limit
	Unavailable  Code = "unavailable"  // retry later: busy, or shutting down

	// Codes of problems a client may need to tell apart from others of
	// the same status: each has a problem type of its own.
	InvalidToken       Code = "invalid_token"       // a new token's name or scopes; Fields say where
	InvalidCredentials Code = "invalid_credentials" // credentials to store; Fields say where, never what
	InvalidShop        Code = "invalid_shop"        // a shop's name, locations or warehouses; Fields say where
	NoSettings         Code = "no_settings"         // nothing to compute with: no settings stored and no default warehouse
	BrokenSettings     Code = "broken_settings"     // the stored settings no longer validate against the shop
	CredentialsRefused Code = "credentials_refused" // a platform refused the shop's credentials, or some are missing; Fields say which
)

// Error is an error the caller can act on: Message says what is wrong and
// what to do, in words meant for the person who sent the request. Err is
// the cause, for logs only.
type Error struct {
	Code    Code
	Message string
	Fields  []compute.FieldError
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid is an Invalid error with the fields to fix.
func invalid(fields ...compute.FieldError) error {
	return &compute.InputError{Kind: compute.Invalid, Errors: fields}
}

// invalidAs gives the field errors of an invalid input error code and
// message, which say what the input was; other errors pass unchanged.
func invalidAs(code Code, message string, err error) error {
	var in *compute.InputError
	if errors.As(err, &in) && in.Kind == compute.Invalid {
		return &Error{Code: code, Message: message, Fields: in.Errors, Err: err}
	}
	return err
}

// CodeOf returns the Code of the Error in err's chain, or "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Errors the store wraps, which callers test with errors.Is. The service
// turns them into Errors that say what to do.
var (
	ErrNotFound        = errors.New("not found")
	ErrVersionMismatch = errors.New("version mismatch")
	ErrExists          = errors.New("already exists")
	// ErrBusy is a write given up after others changed its subject under
	// it again and again; retrying later succeeds.
	ErrBusy = errors.New("busy")
	// ErrInvalidText is text no engine stores the same way: invalid
	// UTF-8, or a NUL, which SQLite keeps and PostgreSQL refuses.
	ErrInvalidText = errors.New("invalid text")
	// ErrPluginGone is a settings write naming an uploaded plugin
	// version that was deleted meanwhile.
	ErrPluginGone = errors.New("plugin version deleted")
	// ErrConnected is a write of a connected shop's locations or
	// warehouses, which only connecting may change.
	ErrConnected = errors.New("the shop's locations and warehouses come from the platforms")
)
