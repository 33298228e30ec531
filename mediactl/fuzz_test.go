package mediactl

import (
	"errors"
	"testing"
)

// FuzzParse: any body and type either parse into a well-formed request or
// fail with exactly one of the documented kinds, never panic.
func FuzzParse(f *testing.F) {
	f.Add(ContentType, []byte(`{"operation":"pause","session_id":"1715000000.12"}`))
	f.Add("text/plain", []byte(`{"operation":"resume","session_id":"x"}`))
	f.Add("text/plain; charset=utf-8", []byte("pause-audio-recording"))
	f.Add("", []byte(`{"operation":1}`))
	f.Add("application/json", []byte(`{}`))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		r, err := Parse(ctype, body)
		if err != nil {
			kinds := 0
			for _, k := range []error{ErrBadRequest, ErrUnsupportedMediaType, ErrTooLarge} {
				if errors.Is(err, k) {
					kinds++
				}
			}
			if kinds != 1 {
				t.Fatalf("error %v wraps %d kinds", err, kinds)
			}
			return
		}
		if r.Operation != Pause && r.Operation != Resume {
			t.Fatalf("operation %q", r.Operation)
		}
		if len(body) > MaxBody {
			t.Fatalf("accepted %d bytes", len(body))
		}
	})
}
