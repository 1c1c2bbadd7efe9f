package config

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Values of Sandbox.Env and Sandbox.Network.
const (
	SandboxEnvScrubbed = "scrubbed"
	SandboxEnvInherit  = "inherit"
	SandboxNetHost     = "host"
	SandboxNetNone     = "none"
)

// DefaultSandboxOpenFiles is the default sandbox.limits.open_files.
const DefaultSandboxOpenFiles = 4096

// Sandbox confines a stdio server's process (Linux; see docs/sandbox.md). Written at the top level it is
// the default of every stdio server; written on a server it replaces the top-level one as a whole.
// After CheckAndSetDefaults every stdio server has a non-nil Sandbox with defaults filled in.
type Sandbox struct {
	// Enabled turns confinement on. Default true. false starts the server as a plain child that inherits
	// the gateway's whole environment (not recommended).
	Enabled *bool `yaml:"enabled,omitempty"`
	// Env is "scrubbed" (default: the server gets only PATH, HOME, LANG, TMPDIR and similar harmless
	// variables of the gateway, plus pass_env and its own env) or "inherit" (the gateway's whole
	// environment, cloud credentials included).
	Env string `yaml:"env"`
	// PassEnv names further gateway variables the server may receive (e.g. HTTPS_PROXY, NPM_CONFIG_REGISTRY).
	PassEnv []string `yaml:"pass_env"`
	// Network is "host" (default) or "none": a network namespace with no interface, for servers that need
	// no network (needs root or unprivileged user namespaces).
	Network string `yaml:"network"`
	// ReadOnly and ReadWrite, when either is set, restrict the file system with Landlock (Linux 5.13+): the
	// server may read only these, ReadWrite and system directories (/usr, /lib, /etc, …), and write only
	// ReadWrite. "~/" is the home directory; relative paths are relative to the config file's directory.
	ReadOnly  []string `yaml:"read_only"`
	ReadWrite []string `yaml:"read_write"`
	// Limits are resource limits.
	Limits SandboxLimits `yaml:"limits"`
	// Strict refuses to start the server when the kernel lacks a requested feature (Landlock, network
	// namespaces). Default false: start it with a warning in the log naming what is not enforced.
	Strict bool `yaml:"strict,omitempty"`
}

// SandboxLimits are resource limits of a sandboxed server. 0 leaves the gateway's own limit.
type SandboxLimits struct {
	// AddressSpace is the virtual memory limit in bytes (e.g. 8GiB). Default none: node reserves large
	// address spaces.
	AddressSpace int64 `yaml:"address_space"`
	// CPU is the total CPU time after which the kernel kills the server (rounded up to seconds). Default none.
	CPU Duration `yaml:"cpu"`
	// OpenFiles is the open file descriptor limit. Default 4096.
	OpenFiles int64 `yaml:"open_files"`
	// Processes is RLIMIT_NPROC, which Linux counts per user (all of the user's processes). Default none.
	Processes int64 `yaml:"processes"`
}

// On reports whether the sandbox is enabled (nil Enabled counts as enabled).
func (s *Sandbox) On() bool { return s != nil && (s.Enabled == nil || *s.Enabled) }

func (d *decoder) sandbox(n *yaml.Node, path string, s *Sandbox) {
	d.object(n, path, []field{
		{"enabled", d.setBoolPtr(&s.Enabled)},
		{"env", d.setStr(&s.Env)},
		{"limits", func(v *yaml.Node, p string) {
			d.object(v, p, []field{
				{"address_space", d.bigSize(&s.Limits.AddressSpace)},
				{"cpu", d.duration(&s.Limits.CPU)},
				{"open_files", d.count(&s.Limits.OpenFiles)},
				{"processes", d.count(&s.Limits.Processes)},
			})
		}},
		{"network", d.setStr(&s.Network)},
		{"pass_env", d.strings(&s.PassEnv)},
		{"read_only", d.strings(&s.ReadOnly)},
		{"read_write", d.strings(&s.ReadWrite)},
		{"strict", d.setBool(&s.Strict)},
	})
}

// count decodes a non-negative whole number.
func (d *decoder) count(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.str(n, path)
		if !ok {
			return
		}
		x, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(v), "_", ""), 10, 64)
		if err != nil || x < 0 {
			d.errorf(n, path, "%q is not a count: write a whole number, 0 or leave it out for the default", v)
			return
		}
		*dst = x
	}
}

// bigSize decodes a byte count with an optional unit (8GiB), without the message-size cap of size.
func (d *decoder) bigSize(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.str(n, path)
		if !ok {
			return
		}
		num, mult := strings.TrimSpace(v), int64(1)
		for _, u := range sizeUnits {
			if strings.HasSuffix(num, u.suffix) {
				num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
				break
			}
		}
		x, err := strconv.ParseInt(strings.ReplaceAll(num, "_", ""), 10, 64)
		if err != nil || x < 0 || x > (1<<62)/mult {
			d.errorf(n, path, "%q is not a size: write a number of bytes or e.g. 8GiB, or 0 for no limit", v)
			return
		}
		*dst = x * mult
	}
}

// sandbox checks one sandbox block and fills its defaults and absolute paths.
func (k *checker) sandbox(s *Sandbox, path, base string, lookup lookupFunc) {
	if s.Enabled == nil {
		on := true
		s.Enabled = &on
	}
	if s.Env == "" {
		s.Env = SandboxEnvScrubbed
	}
	k.enum(path+".env", s.Env, "sandbox env mode", SandboxEnvScrubbed, SandboxEnvInherit)
	if s.Network == "" {
		s.Network = SandboxNetHost
	}
	k.enum(path+".network", s.Network, "sandbox network mode", SandboxNetHost, SandboxNetNone)
	for i, name := range s.PassEnv {
		if !isVarName(name) {
			k.errorf(indexPath(path+".pass_env", i), "%q is not a valid environment variable name: use letters, "+
				"digits and _, not starting with a digit", name)
		}
	}
	for _, l := range []struct {
		key string
		dst []string
	}{{"read_only", s.ReadOnly}, {"read_write", s.ReadWrite}} {
		for i, p := range l.dst {
			if p == "" {
				k.errorf(indexPath(path+"."+l.key, i), "is empty: write a directory or file path")
				continue
			}
			abs, msg := resolvePath(p, base, lookup)
			if msg != "" {
				k.errorf(indexPath(path+"."+l.key, i), "%s", msg)
				continue
			}
			l.dst[i] = abs
		}
	}
	if s.Limits.OpenFiles == 0 {
		s.Limits.OpenFiles = DefaultSandboxOpenFiles
	}
	if s.Limits.CPU.D() < 0 {
		k.errorf(path+".limits.cpu", "must not be negative: write e.g. 1h, or leave it out for no limit")
	}
}

// sandboxes checks the top-level sandbox and gives every stdio server its effective one.
func (k *checker) sandboxes(c *Config, base string, lookup lookupFunc) {
	if c.Sandbox != nil {
		k.sandbox(c.Sandbox, "sandbox", base, lookup)
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		path := indexPath("servers", i) + ".sandbox"
		if s.Transport != TransportStdio {
			if s.Sandbox != nil {
				k.errorf(path, "sandbox applies only to stdio servers (started with command): remove it")
			}
			continue
		}
		if s.Sandbox != nil {
			k.sandbox(s.Sandbox, path, base, lookup)
			continue
		}
		eff := Sandbox{}
		if c.Sandbox != nil {
			eff = *c.Sandbox
			eff.PassEnv = append([]string(nil), c.Sandbox.PassEnv...)
			eff.ReadOnly = append([]string(nil), c.Sandbox.ReadOnly...)
			eff.ReadWrite = append([]string(nil), c.Sandbox.ReadWrite...)
		} else {
			k.sandbox(&eff, path, base, lookup)
		}
		s.Sandbox = &eff
	}
}
