package gateway

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/upstream/sandbox"
)

func TestSandboxProfile(t *testing.T) {
	off := false
	tests := []struct {
		name string
		in   *config.Sandbox
		want *sandbox.Profile
	}{
		{"absent gets the default", nil, &sandbox.Profile{Limits: sandbox.DefaultLimits}},
		{"disabled", &config.Sandbox{Enabled: &off, Env: "scrubbed"}, nil},
		{"full", &config.Sandbox{Env: config.SandboxEnvInherit, PassEnv: []string{"HTTPS_PROXY"}, Network: config.SandboxNetNone,
			ReadOnly: []string{"/ro"}, ReadWrite: []string{"/rw"}, Strict: true,
			Limits: config.SandboxLimits{AddressSpace: 1 << 33, CPU: config.Duration(1500 * time.Millisecond), OpenFiles: 64, Processes: 9}},
			&sandbox.Profile{InheritEnv: true, PassEnv: []string{"HTTPS_PROXY"}, NoNetwork: true, ReadOnly: []string{"/ro"},
				ReadWrite: []string{"/rw"}, Strict: true, Limits: sandbox.Limits{AddressSpace: 1 << 33, CPUSeconds: 2, OpenFiles: 64, Processes: 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sandboxProfile(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
