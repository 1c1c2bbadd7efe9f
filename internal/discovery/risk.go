package discovery

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Risk reason codes (stable; used as SARIF rule ids).
const (
	ReasonShadow          = "shadow"
	ReasonUnpinned        = "unpinned-package"
	ReasonUnpinnedGit     = "unpinned-git"
	ReasonDockerNoDigest  = "docker-no-digest"
	ReasonInlineSecret    = "inline-secret"
	ReasonPlainHTTP       = "plaintext-http"
	ReasonBroadFilesystem = "broad-filesystem-root"
	ReasonUnknownPublish  = "unknown-publisher"
	ReasonPipeToShell     = "pipe-to-shell"
	ReasonToolFinding     = "tool-finding"
)

// reasonPoints are the points each reason adds to a score (capped at 100).
var reasonPoints = map[string]int{
	ReasonShadow: 20, ReasonUnpinned: 20, ReasonUnpinnedGit: 25, ReasonDockerNoDigest: 15,
	ReasonInlineSecret: 25, ReasonPlainHTTP: 25, ReasonBroadFilesystem: 30, ReasonUnknownPublish: 10,
	ReasonPipeToShell: 40,
}

var severityPoints = map[string]int{"critical": 40, "high": 30, "medium": 15, "low": 5}

// Level thresholds.
const (
	levelMediumAt   = 25
	levelHighAt     = 50
	levelCriticalAt = 75
)

// LevelFor maps a score to low, medium, high or critical.
func LevelFor(score int) string {
	switch {
	case score >= levelCriticalAt:
		return "critical"
	case score >= levelHighAt:
		return "high"
	case score >= levelMediumAt:
		return "medium"
	}
	return "low"
}

var pipeToShell = regexp.MustCompile(`(?i)\b(curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|]*\|\s*(sudo\s+)?(sh|bash|zsh|dash|python3?|node|iex|invoke-expression)\b`)

// broadRoots are filesystem roots too broad to hand to a filesystem server.
func broadRoot(arg, home string) bool {
	a := strings.TrimRight(strings.ReplaceAll(arg, `\`, "/"), "/")
	switch a {
	case "", "~", "$HOME", "${HOME}", "%USERPROFILE%", "/home", "/Users", "C:", "c:", "/etc", "/var":
		return true
	}
	return home != "" && a == strings.TrimRight(home, "/")
}

func isFilesystemServer(s *Server) bool {
	text := strings.ToLower(s.Name + " " + s.Package.Name + " " + s.Command)
	return strings.Contains(text, "filesystem") || strings.Contains(text, "server-fs") || strings.Contains(text, "fs-mcp")
}

// scoreServer computes a server's risk from what discovery found about it.
func scoreServer(s *Server, home string) {
	var reasons []Reason
	add := func(code, msg string, pts int) {
		reasons = append(reasons, Reason{Code: code, Points: pts, Message: msg})
	}
	std := func(code, msg string) { add(code, msg, reasonPoints[code]) }

	if s.Shadow {
		std(ReasonShadow, "server is not routed through mcpwarden (shadow MCP); run `mcpwarden enroll --client "+s.Client+"`")
	}
	p := s.Package
	switch {
	case p.Ecosystem == "git" && !p.Pinned:
		std(ReasonUnpinnedGit, fmt.Sprintf("git source %q is not pinned to a commit", p.Name))
	case p.Ecosystem == "docker" && !p.Pinned && p.Name != "":
		std(ReasonDockerNoDigest, fmt.Sprintf("docker image %q is not pinned by digest (@sha256:…)", p.Name))
	case (p.Ecosystem == "npm" || p.Ecosystem == "pypi") && !p.Pinned:
		v := p.Version
		if v == "" {
			v = "none"
		}
		std(ReasonUnpinned, fmt.Sprintf("%s package %q is not pinned to an exact version (version: %s)", p.Ecosystem, p.Name, v))
	}
	if (p.Ecosystem == "npm" || p.Ecosystem == "pypi" || p.Ecosystem == "docker" || p.Ecosystem == "git") && p.Publisher == "" && p.Name != "" {
		std(ReasonUnknownPublish, fmt.Sprintf("publisher of %q is not a known vendor", p.Name))
	}
	if len(s.InlineSecrets) > 0 {
		std(ReasonInlineSecret, "literal secret in the config at "+strings.Join(s.InlineSecrets, ", ")+"; move it to a secret store or an env reference")
	}
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err == nil && u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			std(ReasonPlainHTTP, fmt.Sprintf("plain http to non-loopback host %q", u.Host))
		}
	}
	if isFilesystemServer(s) {
		for _, a := range s.Args {
			if broadRoot(a, home) {
				std(ReasonBroadFilesystem, fmt.Sprintf("filesystem server is given the broad root %q", a))
				break
			}
		}
	}
	if pipeToShell.MatchString(s.Command + " " + strings.Join(s.Args, " ")) {
		std(ReasonPipeToShell, "command downloads and runs a script (curl | sh)")
	}
	toolPts := 0
	for _, f := range s.ToolFindings {
		toolPts += severityPoints[f.Severity]
	}
	if toolPts > 0 {
		if toolPts > 50 {
			toolPts = 50
		}
		add(ReasonToolFinding, fmt.Sprintf("%d tool finding(s) from the scanner", len(s.ToolFindings)), toolPts)
	}
	score := 0
	for _, r := range reasons {
		score += r.Points
	}
	if score > 100 {
		score = 100
	}
	sort.SliceStable(reasons, func(i, j int) bool { return reasons[i].Points > reasons[j].Points })
	s.Risk = Risk{Score: score, Level: LevelFor(score), Reasons: reasons}
}
