package destructive

import (
	"net/url"
	"path"
	"strings"
)

// sensitivePrefixes are matched against the cleaned path (with "~" standing
// for the home directory). A path equal to or under a prefix is sensitive.
var sensitivePrefixes = []struct{ prefix, reason string }{
	{"~/.ssh", "ssh keys"},
	{"~/.gnupg", "gpg keys"},
	{"~/.aws", "cloud credentials"},
	{"~/.azure", "cloud credentials"},
	{"~/.config/gcloud", "cloud credentials"},
	{"~/.kube", "kubernetes credentials"},
	{"~/.docker/config.json", "registry credentials"},
	{"~/.netrc", "credentials"},
	{"~/.git-credentials", "credentials"},
	{"~/.npmrc", "credentials"},
	{"~/.pypirc", "credentials"},
	{"~/.config/gh", "credentials"},
	{"~/.password-store", "credentials"},
	{"~/.local/share/keyrings", "credentials"},
	{"~/.bashrc", "shell startup"},
	{"~/.bash_profile", "shell startup"},
	{"~/.profile", "shell startup"},
	{"~/.zshrc", "shell startup"},
	{"~/.zprofile", "shell startup"},
	{"~/.config/fish", "shell startup"},
	{"~/.bash_history", "shell history"},
	{"~/.zsh_history", "shell history"},
	{"~/library/keychains", "credentials"},
	{"/etc", "system config"},
	{"/boot", "system"},
	{"/dev", "devices"},
	{"/proc", "kernel"},
	{"/sys", "kernel"},
	{"/root", "root home"},
	{"/bin", "system binaries"},
	{"/sbin", "system binaries"},
	{"/usr", "system binaries"},
	{"/lib", "system libraries"},
	{"/lib64", "system libraries"},
	{"/var/lib", "system state"},
	{"/var/run/docker.sock", "docker socket"},
	{"/run/docker.sock", "docker socket"},
	{"/system", "system"},
	{"/library", "system"},
	{"c:/windows", "system"},
	{"c:/program files", "system binaries"},
}

// sensitiveSegments match anywhere in the path (another user's ~/.ssh).
var sensitiveSegments = map[string]string{
	".ssh": "ssh keys", ".gnupg": "gpg keys", ".aws": "cloud credentials", ".kube": "kubernetes credentials",
	".azure": "cloud credentials", ".password-store": "credentials",
}

// sensitiveNames match the last path element.
var sensitiveNames = map[string]string{
	".env": "credentials", ".envrc": "credentials", "id_rsa": "ssh keys", "id_ed25519": "ssh keys",
	"id_ecdsa": "ssh keys", "id_dsa": "ssh keys", "authorized_keys": "ssh keys", "known_hosts": "ssh keys",
	"credentials": "credentials", "credentials.json": "credentials", ".htpasswd": "credentials",
	"shadow": "credentials", "gshadow": "credentials", "sudoers": "system config", "kubeconfig": "kubernetes credentials",
	"terraform.tfstate": "credentials", ".pgpass": "credentials", ".my.cnf": "credentials",
	"secrets.yaml": "credentials", "secrets.yml": "credentials", "secrets.json": "credentials",
	"service-account.json": "credentials", ".git-credentials": "credentials", ".netrc": "credentials",
	".bashrc": "shell startup", ".bash_profile": "shell startup", ".profile": "shell startup",
	".zshrc": "shell startup", ".zprofile": "shell startup", ".bash_history": "shell history",
	".zsh_history": "shell history",
}

var sensitiveExts = map[string]string{
	".pem": "private key", ".key": "private key", ".p12": "private key", ".pfx": "private key",
	".kdbx": "credentials", ".keystore": "private key", ".jks": "private key",
}

// classifyPath normalises raw and checks it against opts.Roots and the
// sensitive-path rules. It does no I/O: symlinks are not resolved.
func classifyPath(raw string, opts *Options) PathInfo {
	info := PathInfo{Raw: raw}
	p := strings.TrimSpace(raw)
	// Percent-encoding (%2e%2e/, %2f): file:// URLs are decoded by their
	// readers and some servers decode plain paths too; the decoded reading can
	// only reveal a traversal or a sensitive target, so it is the one judged.
	if strings.IndexByte(p, '%') >= 0 {
		for i := 0; i < 3; i++ {
			d, err := url.PathUnescape(p)
			if err != nil || d == p {
				break
			}
			p = d
		}
	}
	if strings.HasPrefix(p, "file://") {
		p = strings.TrimPrefix(p, "file://")
		if i := strings.IndexByte(p, '/'); i > 0 {
			p = p[i:] // drop a host
		}
	}
	// Windows drive paths: C:\x → c:/x.
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') && isLetter(p[0]) {
		p = strings.ToLower(p[:1]) + ":" + strings.ReplaceAll(p[2:], `\`, "/")
	}
	for _, seg := range strings.Split(strings.ReplaceAll(p, `\`, "/"), "/") {
		if seg == ".." {
			info.Traversal = true
		}
	}
	home := ""
	if opts != nil {
		home = opts.Home
	}
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		info.Home = true
		if home != "" {
			p = path.Join(home, p[1:])
		} else {
			p = "~/" + strings.TrimPrefix(path.Clean("/"+p[1:]), "/")
			p = strings.TrimSuffix(p, "/")
		}
	case strings.HasPrefix(p, "~"):
		// ~user/…: another user's home.
		info.Home = true
		if p == "~root" || strings.HasPrefix(p, "~root/") {
			p = "/root" + strings.TrimPrefix(p, "~root")
		} else {
			p = "/home/" + strings.TrimPrefix(p, "~")
		}
	}
	switch {
	case strings.HasPrefix(p, "~"), strings.HasPrefix(p, "/"), len(p) >= 2 && p[1] == ':':
		if strings.HasPrefix(p, "/") {
			p = path.Clean(p)
		} else if !strings.HasPrefix(p, "~") {
			p = p[:2] + path.Clean("/"+p[2:])
		}
	default:
		base := ""
		if opts != nil {
			base = opts.WorkDir
			if base == "" && len(opts.Roots) > 0 {
				base = opts.Roots[0]
			}
		}
		if base != "" {
			p = path.Join(base, p)
		} else {
			info.Relative = true
			p = path.Clean(p)
		}
	}
	info.Clean = p
	lp := strings.ToLower(p)
	// Express paths under the known home as ~ so home rules apply.
	tilde := lp
	if home != "" {
		lh := strings.ToLower(path.Clean(home))
		if lp == lh || strings.HasPrefix(lp, lh+"/") {
			tilde = "~" + lp[len(lh):]
		}
	}
	if lp == "/" || tilde == "~" {
		info.Sensitive, info.SensitiveReason = true, "filesystem root"
		if tilde == "~" {
			info.SensitiveReason = "home directory"
		}
	}
	for _, sp := range sensitivePrefixes {
		if !info.Sensitive && (underPrefix(tilde, sp.prefix) || underPrefix(lp, sp.prefix)) {
			info.Sensitive, info.SensitiveReason = true, sp.reason
		}
	}
	if !info.Sensitive {
		segs := strings.Split(lp, "/")
		for _, s := range segs {
			if r, ok := sensitiveSegments[s]; ok {
				info.Sensitive, info.SensitiveReason = true, r
				break
			}
		}
		last := segs[len(segs)-1]
		if r, ok := sensitiveNames[last]; ok && !info.Sensitive {
			info.Sensitive, info.SensitiveReason = true, r
		}
		if r, ok := sensitiveExts[path.Ext(last)]; ok && !info.Sensitive {
			info.Sensitive, info.SensitiveReason = true, r
		}
		if strings.HasPrefix(last, ".env.") && !info.Sensitive {
			info.Sensitive, info.SensitiveReason = true, "credentials"
		}
	}
	if opts != nil && len(opts.Roots) > 0 {
		inside := false
		for _, r := range opts.Roots {
			rc := normRoot(r, home)
			if underPrefix(p, rc) || (info.Relative && !info.Traversal) {
				inside = true
				break
			}
		}
		// A relative path that climbs out with ".." is outside.
		if info.Relative && (p == ".." || strings.HasPrefix(p, "../")) {
			inside = false
		}
		info.OutsideRoots = !inside
	}
	return info
}

func normRoot(r, home string) string {
	switch {
	case r == "~" || strings.HasPrefix(r, "~/"):
		if home != "" {
			return path.Join(home, r[1:])
		}
		return strings.TrimSuffix("~/"+strings.TrimPrefix(path.Clean("/"+r[1:]), "/"), "/")
	case len(r) >= 3 && r[1] == ':':
		return strings.ToLower(r[:1]) + ":" + path.Clean("/"+strings.ReplaceAll(r[2:], `\`, "/"))
	}
	return path.Clean(r)
}

// underPrefix reports whether p equals prefix or lies under it.
func underPrefix(p, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// looksLikePath reports whether an untyped string is plausibly a filesystem
// path: absolute, home-relative, ./ or ../ relative, or a Windows drive path,
// with no whitespace or newline.
func looksLikePath(s string) bool {
	if len(s) < 2 || len(s) > 4096 || strings.ContainsAny(s, " \t\n\r") {
		return false
	}
	switch {
	case strings.HasPrefix(s, "//"):
		return false
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "~/"), strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"):
		return true
	case len(s) >= 3 && isLetter(s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/'):
		return true
	case strings.HasPrefix(s, "file://"):
		return true
	}
	return false
}

// isTempPath reports whether a cleaned path is in a shared temp directory,
// where overwriting is not treated as destructive.
func isTempPath(p string) bool {
	return underPrefix(p, "/tmp") || underPrefix(p, "/var/tmp") || underPrefix(p, "/private/tmp")
}
