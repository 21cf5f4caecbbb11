package shop

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimestampLayout is how every answer writes a time: RFC 3339 in UTC with
// exactly six fractional digits, the microseconds the store keeps. One
// width everywhere: times sort as text, and equal what is stored.
const TimestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// Timestamp is a time in an answer, written in TimestampLayout. Every
// time field of the API's JSON has this type, so none can differ.
type Timestamp time.Time

// Time returns the time t holds.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// String formats t in TimestampLayout.
func (t Timestamp) String() string { return time.Time(t).UTC().Format(TimestampLayout) }

// MarshalJSON writes t as a JSON string in TimestampLayout.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a time must be an RFC 3339 string: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("a time must be RFC 3339, such as %q: %w", TimestampLayout, err)
	}
	*t = Timestamp(v)
	return nil
}

// MarshalJSON writes the shop with its times in TimestampLayout.
func (sh Shop) MarshalJSON() ([]byte, error) {
	type fields Shop // without this method
	return json.Marshal(struct {
		fields
		Created Timestamp `json:"created"`
		Updated Timestamp `json:"updated"`
	}{fields(sh), Timestamp(sh.Created), Timestamp(sh.Updated)})
}
