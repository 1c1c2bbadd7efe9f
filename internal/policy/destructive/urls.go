package destructive

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

var privateSuffixes = []string{".local", ".localdomain", ".internal", ".lan", ".corp", ".home.arpa", ".intranet", ".private", ".svc", ".cluster.local"}

var metadataHosts = map[string]bool{
	"169.254.169.254": true, "fd00:ec2::254": true, "metadata.google.internal": true, "metadata": true,
	"100.100.100.200": true, "169.254.170.2": true,
}

// classifyURL parses raw and classifies its host. It does no DNS lookups: a
// public name that resolves to a private address is reported as external.
func classifyURL(raw string, opts *Options) URLInfo {
	info := URLInfo{Raw: raw}
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		info.Invalid = true
		return info
	}
	info.Scheme = strings.ToLower(u.Scheme)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	info.Host = host
	if ip, ok := parseHostIP(host); ok {
		ip = ip.Unmap()
		switch {
		case ip.IsLoopback() || ip.IsUnspecified():
			info.Loopback = true
		case ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || inCGNAT(ip):
			info.Private = true
		}
		info.Metadata = metadataHosts[ip.String()]
	} else {
		switch {
		case host == "localhost" || strings.HasSuffix(host, ".localhost"):
			info.Loopback = true
		case !strings.Contains(host, "."):
			info.Private = true // single-label names resolve on the local network
		default:
			for _, suf := range privateSuffixes {
				if strings.HasSuffix(host, suf) {
					info.Private = true
				}
			}
			if opts != nil {
				for _, d := range opts.InternalDomains {
					d = strings.TrimPrefix(strings.ToLower(d), ".")
					if host == d || strings.HasSuffix(host, "."+d) {
						info.Private = true
					}
				}
			}
		}
		info.Metadata = metadataHosts[host]
	}
	if info.Metadata {
		info.Private = true
	}
	info.External = !info.Loopback && !info.Private
	return info
}

func inCGNAT(ip netip.Addr) bool {
	return netip.MustParsePrefix("100.64.0.0/10").Contains(ip)
}

// parseHostIP parses IPv4/IPv6 literals including the forms that inet_aton
// accepts (2130706433, 0x7f.1, 0177.0.0.1), which attackers use to dodge
// "127.0.0.1" string checks.
func parseHostIP(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.WithZone(""), true
	}
	parts := strings.Split(h, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" {
			nums = append(nums, 0)
			continue
		}
		n, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	var v uint64
	last := nums[len(nums)-1]
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (24 - 8*uint(i))
	}
	rem := uint(4 - len(nums) + 1)
	if last >= 1<<(8*rem) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "OPTIONS": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
	"TRACE": true, "CONNECT": true, "PURGE": true,
}

func isWriteMethod(m string) bool {
	return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "PURGE"
}

// looksLikeURL reports whether an untyped string is a URL with a network
// scheme.
func looksLikeURL(s string) bool {
	if len(s) > 8192 || strings.ContainsAny(s, " \t\n") {
		return false
	}
	ls := strings.ToLower(s)
	for _, p := range []string{"http://", "https://", "ws://", "wss://", "ftp://", "ftps://", "sftp://", "ssh://", "git://"} {
		if strings.HasPrefix(ls, p) {
			return true
		}
	}
	return false
}
