package mediactl

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, ctype, body string
		want              Request
		err               error
	}{
		{"PortSIP pause", ContentType, `{"operation":"pause","session_id":"1715.12"}`, Request{Pause, "1715.12"}, nil},
		{"PortSIP resume, charset, upper case", "Application/X-Media-Control+JSON; charset=utf-8", `{"operation":"RESUME","session_id":"a"}`, Request{Resume, "a"}, nil},
		{"unknown fields ignored", ContentType, `{"operation":"pause","session_id":"a","media":"audio"}`, Request{Pause, "a"}, nil},
		{"text/plain JSON (Asterisk out of dialog)", "text/plain", ` {"operation":"pause","session_id":"a"}` + "\r\n", Request{Pause, "a"}, nil},
		{"no Content-Type is text/plain", "", `{"operation":"pause","session_id":"a"}`, Request{Pause, "a"}, nil},
		{"in-dialog pause", "text/plain", "pause-audio-recording\r\n", Request{Operation: Pause}, nil},
		{"in-dialog resume", "text/plain;charset=UTF-8", "Resume-Audio-Recording", Request{Operation: Resume}, nil},
		{"video is not callrecd's", "text/plain", "pause-video-recording", Request{}, ErrBadRequest},
		{"bad JSON", ContentType, `{"operation":`, Request{}, ErrBadRequest},
		{"JSON array", ContentType, `[]`, Request{}, ErrBadRequest},
		{"JSON wrong type", ContentType, `{"operation":1,"session_id":"a"}`, Request{}, ErrBadRequest},
		{"no operation", ContentType, `{"session_id":"a"}`, Request{}, ErrBadRequest},
		{"no session", ContentType, `{"operation":"pause"}`, Request{}, ErrBadRequest},
		{"null session", ContentType, `{"operation":"pause","session_id":null}`, Request{}, ErrBadRequest},
		{"blank session", ContentType, `{"operation":"pause","session_id":"  "}`, Request{}, ErrBadRequest},
		{"unknown operation", ContentType, `{"operation":"explode","session_id":"a"}`, Request{}, ErrBadRequest},
		{"plain text that is no command", "text/plain", "hello", Request{}, ErrBadRequest},
		{"empty body", ContentType, "", Request{}, ErrBadRequest},
		{"other type", "application/json", `{"operation":"pause","session_id":"a"}`, Request{}, ErrUnsupportedMediaType},
		{"malformed type", "text/", `{}`, Request{}, ErrUnsupportedMediaType},
		{"too large", ContentType, `{"operation":"pause","session_id":"` + strings.Repeat("x", MaxBody) + `"}`, Request{}, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.ctype, []byte(c.body))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
			if got.InDialogForm() != (c.want.SessionID == "") {
				t.Fatalf("InDialogForm %v for %+v", got.InDialogForm(), got)
			}
		})
	}
}
