package esl_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"reflect"
	"strconv"
	"testing"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// fuzzNorm drops what the encoders rebuild rather than copy: the body's
// Content-Length, Event-Name (it is Name), a "_body" header.
func fuzzNorm(ev esl.Event) esl.Event {
	h, m := maps.Clone(ev.Headers), maps.Clone(ev.Multi)
	for _, k := range []string{"Content-Length", "Event-Name", "_body"} {
		delete(h, k)
		delete(m, k)
	}
	if len(m) == 0 {
		m = nil
	}
	return esl.Event{Name: ev.Name, Headers: h, Multi: m, Body: ev.Body, Seq: ev.Seq}
}

// refDecodeJSON is DecodeJSONEvent's contract written with encoding/json:
// the fast parser must agree with it on every input.
func refDecodeJSON(b []byte) (esl.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return esl.Event{}, err
	}
	if raw == nil {
		return esl.Event{}, errors.New("null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return esl.Event{}, errors.New("data after the object")
	}
	scalar := func(v any) (string, error) {
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		case nil:
			return "", nil
		}
		return "", errors.New("nested")
	}
	ev := esl.Event{Headers: map[string]string{}}
	for k, v := range raw {
		if arr, ok := v.([]any); ok {
			if k == "_body" {
				return esl.Event{}, errors.New("_body array")
			}
			vals := []string{}
			for _, x := range arr {
				s, err := scalar(x)
				if err != nil {
					return esl.Event{}, err
				}
				vals = append(vals, s)
			}
			if ev.Multi == nil {
				ev.Multi = map[string][]string{}
			}
			ev.Multi[k], ev.Headers[k] = vals, ""
			if len(vals) > 0 {
				ev.Headers[k] = vals[len(vals)-1]
			}
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return esl.Event{}, err
		}
		if k == "_body" {
			ev.Body = s
		} else {
			ev.Headers[k] = s
		}
	}
	ev.Name = ev.Headers["Event-Name"]
	ev.Seq, _ = strconv.ParseUint(ev.Headers["Event-Sequence"], 10, 64)
	return ev, nil
}

func FuzzDecodeJSONEvent(f *testing.F) {
	for _, l := range esltest.LoadTrace(f, "d2_idle_state_queries_and_errors") {
		if len(l.Event) > 0 {
			f.Add([]byte(l.Event))
		}
	}
	f.Add([]byte(`{"Event-Name":"X","a":["1","2"],"n":1e3,"b":null,"_body":"x\u0000\ud800"}`))
	f.Add([]byte(`{"Event-Name":["A","B"],"Content-Length":"9"}`))
	f.Add([]byte(`{"a":"\ud83d\ude00\udc00\ud800\u0041","\u00e9":"x\xff\xe2\x82","a":["1"],"a":"2"} `))
	f.Add([]byte(`{"n":[-0.5e+3,true,false,null],"m":01}`))
	f.Add([]byte("{\"a\xff\":\"x\xff\xe2\x82\xef\xbf\xbd\\u00e9\xc3\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := esl.DecodeJSONEvent(data)
		ref, refErr := refDecodeJSON(data)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("DecodeJSONEvent: %v, encoding/json: %v", err, refErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(ev, ref) {
			t.Fatalf("DecodeJSONEvent and encoding/json differ:\n%+v\n%+v", ev, ref)
		}
		back, err := esl.DecodeJSONEvent(esltest.EncodeJSON(ev))
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if a, b := fuzzNorm(ev), fuzzNorm(back); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip:\n%+v\n%+v", a, b)
		}
	})
}

func FuzzDecodePlainEvent(f *testing.F) {
	for i, l := range esltest.LoadTrace(f, "e_plain_format_filtered_subscription") {
		if l.Format == "plain" && i%4 == 0 {
			f.Add([]byte(l.Raw))
		}
	}
	f.Add([]byte("Event-Name: X\nA: %41%4\nM: ARRAY::a|:b\nContent-Length: 2\n\nhi"))
	f.Add([]byte("M: ARRAY::a|:b\nM: c\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := esl.DecodePlainEvent(data)
		if err != nil {
			return
		}
		back, err := esl.DecodePlainEvent(esltest.EncodePlain(ev))
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if a, b := fuzzNorm(ev), fuzzNorm(back); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip:\n%+v\n%+v", a, b)
		}
	})
}

// The fast parser and encoding/json agree on every event of every trace.
func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, name := range esltest.TraceNames(t) {
		for i, l := range esltest.LoadTrace(t, name) {
			if len(l.Event) == 0 {
				continue
			}
			ev, err := esl.DecodeJSONEvent(l.Event)
			ref, refErr := refDecodeJSON(l.Event)
			if err != nil || refErr != nil || !reflect.DeepEqual(ev, ref) {
				t.Fatalf("%s line %d: %v %v\n%+v\n%+v", name, i+1, err, refErr, ev, ref)
			}
		}
	}
}
