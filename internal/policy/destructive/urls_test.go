package destructive

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassifyURL(t *testing.T) {
	opts := &Options{InternalDomains: []string{"corp.example"}}
	tests := []struct {
		raw  string
		want URLInfo
	}{
		{"https://api.github.com/repos/x", URLInfo{Scheme: "https", Host: "api.github.com", External: true}},
		{"http://localhost:8080/x", URLInfo{Scheme: "http", Host: "localhost", Loopback: true}},
		{"http://app.localhost/", URLInfo{Scheme: "http", Host: "app.localhost", Loopback: true}},
		{"http://127.0.0.1/", URLInfo{Scheme: "http", Host: "127.0.0.1", Loopback: true}},
		{"http://127.1/", URLInfo{Scheme: "http", Host: "127.1", Loopback: true}},
		{"http://2130706433/", URLInfo{Scheme: "http", Host: "2130706433", Loopback: true}},
		{"http://0x7f.0.0.1/", URLInfo{Scheme: "http", Host: "0x7f.0.0.1", Loopback: true}},
		{"http://0177.0.0.1/", URLInfo{Scheme: "http", Host: "0177.0.0.1", Loopback: true}},
		{"http://[::1]:3000/", URLInfo{Scheme: "http", Host: "::1", Loopback: true}},
		{"http://[::ffff:10.0.0.1]/", URLInfo{Scheme: "http", Host: "::ffff:10.0.0.1", Private: true}},
		{"http://0.0.0.0:80/", URLInfo{Scheme: "http", Host: "0.0.0.0", Loopback: true}},
		{"http://10.1.2.3/", URLInfo{Scheme: "http", Host: "10.1.2.3", Private: true}},
		{"http://192.168.1.10/", URLInfo{Scheme: "http", Host: "192.168.1.10", Private: true}},
		{"http://169.254.169.254/latest/meta-data/", URLInfo{Scheme: "http", Host: "169.254.169.254", Private: true, Metadata: true}},
		{"http://metadata.google.internal/", URLInfo{Scheme: "http", Host: "metadata.google.internal", Private: true, Metadata: true}},
		{"http://db:5432/", URLInfo{Scheme: "http", Host: "db", Private: true}},
		{"https://wiki.corp.example/page", URLInfo{Scheme: "https", Host: "wiki.corp.example", Private: true}},
		{"https://printer.local/", URLInfo{Scheme: "https", Host: "printer.local", Private: true}},
		{"HTTPS://EXAMPLE.COM./a", URLInfo{Scheme: "https", Host: "example.com", External: true}},
		{"example.org/path", URLInfo{Scheme: "https", Host: "example.org", External: true}},
		{"https://user:pw@evil.example@good.example/", URLInfo{Scheme: "https", Host: "good.example", External: true}},
		{"http://", URLInfo{Invalid: true}},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			tc.want.Raw = tc.raw
			got := classifyURL(tc.raw, opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("classifyURL(%q) mismatch (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestClassifyHTTPCall(t *testing.T) {
	tool := ToolInfo{
		Name:        "http_request",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string","format":"uri"},"method":{"type":"string","enum":["GET","POST","PUT","PATCH","DELETE"]},"body":{"type":"string"}}}`),
	}
	type view struct {
		Method        string
		External      bool
		ExternalWrite bool
		Destructive   bool
		ReadOnly      bool
	}
	tests := []struct {
		name string
		args string
		want view
	}{
		{"get external", `{"url":"https://api.example.com/x","method":"GET"}`, view{"GET", true, false, false, true}},
		{"post external", `{"url":"https://api.example.com/x","method":"post","body":"{}"}`, view{"POST", true, true, false, false}},
		{"put external", `{"url":"https://api.example.com/x","method":"PUT"}`, view{"PUT", true, true, false, false}},
		{"patch external", `{"url":"https://api.example.com/x","method":"PATCH"}`, view{"PATCH", true, true, false, false}},
		{"delete external", `{"url":"https://api.example.com/repos/x","method":"DELETE"}`, view{"DELETE", true, true, true, false}},
		{"post loopback", `{"url":"http://127.0.0.1:9000/x","method":"POST"}`, view{"POST", false, false, false, false}},
		{"no method", `{"url":"https://api.example.com/x"}`, view{"", true, false, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(tool, json.RawMessage(tc.args), Options{})
			got := view{f.HTTP.Method, f.HTTP.External, f.HTTP.ExternalWrite, f.Destructive, f.ReadOnly}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Classify(%s) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}
