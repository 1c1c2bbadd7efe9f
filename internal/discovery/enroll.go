package discovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tailscale/hujson"
	"gopkg.in/yaml.v3"
)

// Suffixes of the files Enroll keeps beside a client config.
const (
	BackupSuffix   = ".mcpwarden-backup"
	ManifestSuffix = ".mcpwarden-enroll.json"
)

// ErrChangedSinceRead means a file changed between reading and writing it; nothing was written.
var ErrChangedSinceRead = errors.New("file changed since it was read")

// EnrollOptions configures Enroll and Unenroll.
type EnrollOptions struct {
	// Scan selects the machine layout and the clients (Scan.Clients; empty with All = every client).
	Scan Options
	// All enrols every known client; otherwise Scan.Clients must name at least one.
	All bool
	// GatewayConfig is the mcpwarden config file that receives the servers. Default
	// <home>/.config/mcpwarden/config.yaml.
	GatewayConfig string
	// GatewayURL is the gateway's base URL for HTTP servers. Default: http://<listen> from the gateway
	// config, else DefaultGatewayURL.
	GatewayURL string
	// Command is the mcpwarden executable written into client configs. Default "mcpwarden".
	Command string
	// Force lets Unenroll restore a file that changed since it was enrolled (those changes are lost).
	Force bool
}

// FileChange is what Enroll or Unenroll did to one client config file.
type FileChange struct {
	Client string `json:"client"`
	File   string `json:"file"`
	// Servers are the entries rewritten (Enroll) or restored (Unenroll).
	Servers []string `json:"servers,omitempty"`
	Changed bool     `json:"changed"`
	Backup  string   `json:"backup,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// EnrollResult lists the files touched and the servers added to the gateway config.
type EnrollResult struct {
	Files         []FileChange `json:"files"`
	GatewayConfig string       `json:"gateway_config,omitempty"`
	GatewayAdded  []string     `json:"gateway_added,omitempty"`
}

// Failed reports whether any file could not be processed.
func (r *EnrollResult) Failed() bool {
	for _, f := range r.Files {
		if f.Error != "" {
			return true
		}
	}
	return false
}

// enrollManifest is written beside an enrolled file so Unenroll can tell whether it changed since.
type enrollManifest struct {
	OriginalSHA256 string   `json:"original_sha256"`
	EnrolledSHA256 string   `json:"enrolled_sha256"`
	GatewayConfig  string   `json:"gateway_config"`
	Servers        []string `json:"servers"`
	Time           string   `json:"time"`
}

func (o *EnrollOptions) checkAndSetDefaults() error {
	if !o.All && len(o.Scan.Clients) == 0 {
		return errors.New("name a client with --client NAME or pass --all")
	}
	if o.All {
		o.Scan.Clients = nil
	}
	if err := o.Scan.checkAndSetDefaults(); err != nil {
		return err
	}
	if o.GatewayConfig == "" {
		o.GatewayConfig = filepath.Join(o.Scan.Home, ".config", "mcpwarden", "config.yaml")
	}
	abs, err := filepath.Abs(o.GatewayConfig)
	if err != nil {
		return fmt.Errorf("gateway config path %q: %w", o.GatewayConfig, err)
	}
	o.GatewayConfig = abs
	if o.Command == "" {
		o.Command = "mcpwarden"
	}
	if o.GatewayURL == "" {
		o.GatewayURL = DefaultGatewayURL
		if gc, err := readGatewayConfig(o.GatewayConfig); err == nil && gc.Listen != "" {
			o.GatewayURL = "http://" + gc.Listen
		}
	}
	o.GatewayURL = strings.TrimRight(o.GatewayURL, "/")
	o.Scan.Gateways = append(o.Scan.Gateways, o.GatewayURL)
	return nil
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// gatewayServer is one entry appended to the gateway config's servers list.
type gatewayServer struct {
	Name      string            `yaml:"name"`
	Transport string            `yaml:"transport,omitempty"`
	Command   []string          `yaml:"command,omitempty"`
	Env       map[string]string `yaml:"env,omitempty"`
	URL       string            `yaml:"url,omitempty"`
	Headers   map[string]string `yaml:"headers,omitempty"`
}

type gatewayFile struct {
	Listen  string          `yaml:"listen"`
	Servers []gatewayServer `yaml:"servers"`
}

func readGatewayConfig(path string) (*gatewayFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var gf gatewayFile
	if err := yaml.Unmarshal(data, &gf); err != nil {
		return nil, fmt.Errorf("gateway config %s: %w", path, err)
	}
	return &gf, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func sanitizeName(s string) string {
	s = strings.Trim(unsafeName.ReplaceAllString(s, "-"), "-")
	if s == "" {
		s = "server"
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func sameGatewayServer(a, b gatewayServer) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// Enroll rewrites the selected clients' configs (JSON, Codex TOML, Goose/Continue YAML) so that every
// stdio server runs through `mcpwarden wrap --config GATEWAY_CONFIG NAME` and every HTTP/SSE server points
// at GATEWAY_URL/mcp/NAME;
// the original definitions are appended to the gateway config. Only the server entries of a client config
// change; the original bytes are kept in FILE.mcpwarden-backup (the oldest original is kept when a file is
// enrolled again). Enrolling an already enrolled file changes nothing. A file that changed between reading
// and writing is left alone and reported (ErrChangedSinceRead). Managed (MDM) files are never touched.
func Enroll(ctx context.Context, opts EnrollOptions) (*EnrollResult, error) {
	if err := opts.checkAndSetDefaults(); err != nil {
		return nil, err
	}
	inv, err := Scan(ctx, opts.Scan)
	if err != nil {
		return nil, err
	}
	res := &EnrollResult{Files: []FileChange{}, GatewayConfig: opts.GatewayConfig}
	gc, err := readGatewayConfig(opts.GatewayConfig)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if gc == nil {
		gc = &gatewayFile{}
	}
	byFile := map[string][]*Server{}
	var files []string
	for i := range inv.Servers {
		s := &inv.Servers[i]
		if !s.Shadow || s.Scope == ScopeManaged {
			continue // managed (MDM) files belong to their administrator
		}
		if _, ok := byFile[s.File]; !ok {
			files = append(files, s.File)
		}
		byFile[s.File] = append(byFile[s.File], s)
	}
	sort.Strings(files)
	// Plan every file first, then write the gateway config, then the client files, so that no client
	// config ever names a gateway server that does not exist.
	var pending []gatewayServer
	var commits []func() error
	for _, file := range files {
		servers := byFile[file]
		res.Files = append(res.Files, FileChange{Client: servers[0].Client, File: file})
		fc := &res.Files[len(res.Files)-1]
		if d := servers[0].dialect; d == dialectCodex || (servers[0].format == formatYAML && (d == dialectGoose || d == dialectContinue)) {
			plan := planTOMLFile
			if d != dialectCodex {
				plan = planYAMLFile
			}
			added, commit, err := plan(file, servers, gc, &opts, fc)
			if err != nil {
				fc.Error = err.Error()
			}
			pending = append(pending, added...)
			commits = append(commits, commit)
			continue
		}
		if servers[0].format != formatJSON || servers[0].dialect == dialectContinue || servers[0].dialect == dialectGoose {
			fc.Error = fmt.Sprintf("enrolment of %s %s configs is not supported yet: wrap its servers by hand with `mcpwarden wrap --config %s NAME`",
				servers[0].Client, servers[0].format, opts.GatewayConfig)
			commits = append(commits, nil)
			continue
		}
		added, commit, err := planFile(file, servers, gc, &opts, fc)
		if err != nil {
			fc.Error = err.Error()
		}
		pending = append(pending, added...)
		commits = append(commits, commit)
	}
	if len(pending) > 0 {
		if err := appendGatewayServers(opts.GatewayConfig, pending); err != nil {
			return res, fmt.Errorf("nothing was changed: %w", err)
		}
		for _, g := range pending {
			res.GatewayAdded = append(res.GatewayAdded, g.Name)
		}
	}
	for i, commit := range commits {
		if commit == nil {
			continue
		}
		if err := commit(); err != nil {
			res.Files[i].Error = err.Error()
			continue
		}
		res.Files[i].Changed = true
	}
	return res, nil
}

// planFile prepares the rewrite of one JSON client config. It returns the gateway entries to add and a
// commit that writes the backup, the file (if still unchanged) and the manifest; commit is nil when
// nothing changes.
func planFile(file string, servers []*Server, gc *gatewayFile, opts *EnrollOptions, fc *FileChange) ([]gatewayServer, func() error, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", file, err)
	}
	// A UTF-8 byte order mark is kept as it was; the rest of the file is edited. A UTF-16 file (which
	// discovery reads) is not rewritten: its client may not read the file back in another encoding.
	bom, orig := []byte(nil), raw
	if bytes.HasPrefix(raw, utf8BOM) {
		bom, orig = utf8BOM, raw[len(utf8BOM):]
	} else if dec, err := decodeText(raw); err != nil || !bytes.Equal(dec, raw) {
		return nil, nil, fmt.Errorf("%s is UTF-16 text; enrolment edits UTF-8 files only: save it as UTF-8 (its client reads that too), then enrol again; nothing was written", file)
	}
	root, err := hujson.Parse(orig)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w (fix the file, then enrol again)", file, err)
	}
	unit := detectIndent(orig)
	type splice struct {
		start, end int
		data       []byte
	}
	var splices []splice
	var added []gatewayServer
	var problems []string
	for _, s := range servers {
		v := root.Find(jsonPointer(s.pointer))
		obj, ok := (*hujson.Object)(nil), false
		if v != nil {
			obj, ok = v.Value.(*hujson.Object)
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("server %q could not be located in the file (unusual key encoding?); enrol it by hand", s.Name))
			continue
		}
		gs := gatewayServer{Name: sanitizeName(s.Name)}
		if s.Transport == TransportStdio {
			gs.Command = append([]string{s.Command}, s.rawArgs...)
			gs.Env = s.env
		} else {
			gs.URL, gs.Headers = s.rawURL, s.headers
			if s.Transport == TransportSSE {
				gs.Transport = TransportSSE
			}
		}
		gs.Name = pickGatewayName(gs, s.Client, gc, added)
		entry, err := rewriteEntry(obj, s, gs.Name, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: server %q: %w", file, s.Name, err)
		}
		splices = append(splices, splice{v.StartOffset, v.EndOffset, renderObject(entry, lineIndent(orig, v.StartOffset), unit)})
		if !containsServer(gc.Servers, gs) && !containsServer(added, gs) {
			added = append(added, gs)
		}
		fc.Servers = append(fc.Servers, s.Name)
	}
	var perr error
	if len(problems) > 0 {
		perr = fmt.Errorf("%s: %s", file, strings.Join(problems, "; "))
	}
	if len(splices) == 0 {
		return nil, nil, perr
	}
	sort.Slice(splices, func(i, j int) bool { return splices[i].start > splices[j].start })
	out := bytes.Clone(orig)
	for _, sp := range splices {
		out = append(out[:sp.start:sp.start], append(sp.data, out[sp.end:]...)...)
	}
	if bytes.Equal(out, orig) {
		return nil, nil, perr
	}
	if _, err := hujson.Parse(out); err != nil {
		return nil, nil, fmt.Errorf("internal error: the rewritten %s does not parse (%v); nothing was written", file, err)
	}
	fc.Backup = file + BackupSuffix
	gc.Servers = append(gc.Servers, added...)
	return added, commitFunc(file, raw, append(bytes.Clone(bom), out...), append([]string(nil), fc.Servers...), opts), perr
}

// utf8BOM is the byte order mark some Windows editors put at the start of a UTF-8 file.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// commitFunc returns the write step of an enrolment: the backup (unless one exists), the file (only if it
// still has the bytes that were read) and the manifest.
func commitFunc(file string, orig, out []byte, names []string, opts *EnrollOptions) func() error {
	origHash := sha(orig)
	backup := file + BackupSuffix
	return func() error {
		if _, err := os.Stat(backup); errors.Is(err, fs.ErrNotExist) {
			if err := writeFileAtomic(backup, orig, fileMode(file)); err != nil {
				return fmt.Errorf("write backup %s: %w", backup, err)
			}
		}
		man := enrollManifest{OriginalSHA256: origHash, EnrolledSHA256: sha(out), GatewayConfig: opts.GatewayConfig,
			Servers: names, Time: time.Now().UTC().Format(time.RFC3339)}
		if old, err := readManifest(file); err == nil {
			man.OriginalSHA256 = old.OriginalSHA256
			man.Servers = append(old.Servers, man.Servers...)
		}
		if err := writeIfUnchanged(file, origHash, out); err != nil {
			return err
		}
		mb, _ := json.MarshalIndent(man, "", "  ")
		if err := writeFileAtomic(file+ManifestSuffix, append(mb, '\n'), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", file+ManifestSuffix, err)
		}
		return nil
	}
}

func containsServer(list []gatewayServer, g gatewayServer) bool {
	for _, x := range list {
		if x.Name == g.Name && sameGatewayServer(x, g) {
			return true
		}
	}
	return false
}

// pickGatewayName keeps the server's name unless the gateway config already has a different server of that
// name; then it prefixes the client ID, then adds a number.
func pickGatewayName(gs gatewayServer, client string, gc *gatewayFile, pending []gatewayServer) string {
	all := append(append([]gatewayServer{}, gc.Servers...), pending...)
	free := func(name string) bool {
		for _, x := range all {
			if x.Name == name {
				y := gs
				y.Name = name
				return sameGatewayServer(x, y)
			}
		}
		return true
	}
	candidates := []string{gs.Name, sanitizeName(client + "-" + gs.Name)}
	for _, c := range candidates {
		if free(c) {
			return c
		}
	}
	for i := 2; ; i++ {
		c := sanitizeName(fmt.Sprintf("%s-%s-%d", client, gs.Name, i))
		if free(c) {
			return c
		}
	}
}

// member is one key of a JSON object being rewritten, with its value as standard JSON.
type member struct {
	key string
	raw json.RawMessage
}

type orderedObject []member

func (o *orderedObject) set(key string, v any) {
	raw, _ := json.Marshal(v)
	for i := range *o {
		if (*o)[i].key == key {
			(*o)[i].raw = raw
			return
		}
	}
	*o = append(*o, member{key, raw})
}

func (o *orderedObject) del(keys ...string) {
	out := (*o)[:0]
	for _, m := range *o {
		drop := false
		for _, k := range keys {
			if m.key == k {
				drop = true
			}
		}
		if !drop {
			out = append(out, m)
		}
	}
	*o = out
}

func (o orderedObject) get(key string) json.RawMessage {
	for _, m := range o {
		if m.key == key {
			return m.raw
		}
	}
	return nil
}

// rewriteEntry returns the entry routed through mcpwarden, keeping unrelated keys in their order.
func rewriteEntry(obj *hujson.Object, s *Server, gwName string, opts *EnrollOptions) (orderedObject, error) {
	var entry orderedObject
	for _, m := range obj.Members {
		lit, ok := m.Name.Value.(hujson.Literal)
		if !ok {
			return nil, errors.New("unexpected object key")
		}
		val := m.Value.Clone()
		val.BeforeExtra, val.AfterExtra = nil, nil
		std, err := hujson.Standardize(val.Pack())
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, std); err != nil {
			return nil, err
		}
		entry = append(entry, member{lit.String(), buf.Bytes()})
	}
	wrapArgs := []string{"wrap", "--config", opts.GatewayConfig, gwName}
	if s.Transport == TransportStdio {
		entry.del("env", "envs", "environment", "envFile")
		switch {
		case s.dialect == dialectOpenCode:
			entry.set("command", append([]string{opts.Command}, wrapArgs...))
		case s.dialect == dialectZed && len(entry.get("command")) > 0 && entry.get("command")[0] == '{':
			entry.set("command", map[string]any{"path": opts.Command, "args": wrapArgs})
			entry.del("args")
		default:
			entry.set("command", opts.Command)
			entry.set("args", wrapArgs)
		}
		return entry, nil
	}
	target := opts.GatewayURL + "/mcp/" + gwName
	entry.del("headers", "http_headers", "requestInit")
	key := s.urlKey
	if key == "" {
		key = "url"
	}
	if s.Client == "gemini-cli" && key == "url" {
		entry.del("url")
		key = "httpUrl"
	}
	entry.set(key, target)
	for _, tk := range []string{"type", "transport"} {
		var t string
		if json.Unmarshal(entry.get(tk), &t) == nil && strings.EqualFold(t, "sse") {
			entry.set(tk, "http")
		}
	}
	return entry, nil
}

// renderObject writes an object in the file's indentation style; indent is the indentation of the line
// the object starts on.
func renderObject(o orderedObject, indent, unit string) []byte {
	if len(o) == 0 {
		return []byte("{}")
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, m := range o {
		b.WriteString(indent + unit)
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteString(": ")
		var v bytes.Buffer
		if err := json.Indent(&v, m.raw, indent+unit, unit); err != nil {
			v.Reset()
			v.Write(m.raw)
		}
		b.Write(v.Bytes())
		if i < len(o)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(indent + "}")
	return b.Bytes()
}

// lineIndent is the leading whitespace of the line holding offset.
func lineIndent(data []byte, offset int) string {
	start := bytes.LastIndexByte(data[:offset], '\n') + 1
	end := start
	for end < len(data) && (data[end] == ' ' || data[end] == '\t') {
		end++
	}
	return string(data[start:end])
}

// detectIndent returns the indentation unit of a JSON file (the first indented line), default two spaces.
func detectIndent(data []byte) string {
	for _, line := range bytes.Split(data, []byte("\n")) {
		n := 0
		for n < len(line) && (line[n] == ' ' || line[n] == '\t') {
			n++
		}
		if n > 0 && n < len(line) {
			return string(line[:n])
		}
	}
	return "  "
}

func jsonPointer(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
	}
	return b.String()
}

func fileMode(path string) fs.FileMode {
	if st, err := os.Stat(path); err == nil {
		return st.Mode().Perm()
	}
	return 0o600
}

// writeIfUnchanged replaces path with data only if its current content still hashes to wantHash.
func writeIfUnchanged(path, wantHash string, data []byte) error {
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("re-read %s: %w", path, err)
	}
	if sha(cur) != wantHash {
		return fmt.Errorf("%s: %w; nothing was written, run the command again", path, ErrChangedSinceRead)
	}
	return writeFileAtomic(path, data, fileMode(path))
}

// writeFileAtomic writes data to a temporary file beside path and renames it over path.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}

func readManifest(file string) (*enrollManifest, error) {
	data, err := os.ReadFile(file + ManifestSuffix)
	if err != nil {
		return nil, err
	}
	var m enrollManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file+ManifestSuffix, err)
	}
	return &m, nil
}

// appendGatewayServers appends servers to the `servers:` list of a gateway config, creating the file
// when missing. Other content (and comments) of the file are kept; yaml.v3 re-indents the document.
func appendGatewayServers(path string, add []gatewayServer) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	origHash := sha(data)
	var doc yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("gateway config %s: %w", path, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("gateway config %s: the top level is not a mapping", path)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "servers" {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		if list != nil && !(list.Kind == yaml.ScalarNode && list.Tag == "!!null") {
			return fmt.Errorf("gateway config %s: servers is not a list", path)
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if list != nil {
			*list = *seq
			list.Style = 0
		} else {
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "servers"}, seq)
			list = seq
		}
	}
	list.Style = 0
	for _, g := range add {
		var n yaml.Node
		if err := n.Encode(g); err != nil {
			return err
		}
		list.Content = append(list.Content, &n)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if len(data) > 0 {
		if err := writeIfUnchanged(path, origHash, buf.Bytes()); err != nil {
			return err
		}
		return nil
	}
	return writeFileAtomic(path, buf.Bytes(), 0o600)
}

// Unenroll restores every enrolled config of the selected clients to the exact bytes it had before the
// first Enroll, and removes the backup and manifest. A file changed since enrolment is refused unless
// Force is set. Servers added to the gateway config stay there (they are unused once no client points at
// them).
func Unenroll(ctx context.Context, opts EnrollOptions) (*EnrollResult, error) {
	if err := opts.checkAndSetDefaults(); err != nil {
		return nil, err
	}
	inv, err := Scan(ctx, opts.Scan)
	if err != nil {
		return nil, err
	}
	res := &EnrollResult{Files: []FileChange{}, GatewayConfig: opts.GatewayConfig}
	for _, f := range inv.Files {
		backup := f.Path + BackupSuffix
		orig, err := os.ReadFile(backup)
		if err != nil {
			continue
		}
		fc := FileChange{Client: f.Client, File: f.Path, Backup: backup}
		cur, err := os.ReadFile(f.Path)
		if err != nil {
			fc.Error = fmt.Sprintf("read %s: %v", f.Path, err)
			res.Files = append(res.Files, fc)
			continue
		}
		man, merr := readManifest(f.Path)
		if merr == nil {
			fc.Servers = man.Servers
		}
		if !opts.Force && (merr != nil || man.EnrolledSHA256 != sha(cur)) {
			fc.Error = fmt.Sprintf("%s changed since it was enrolled; restoring %s would discard those changes: "+
				"re-apply them after `unenroll --force`, or edit the file by hand", f.Path, backup)
			res.Files = append(res.Files, fc)
			continue
		}
		if err := writeIfUnchanged(f.Path, sha(cur), orig); err != nil {
			fc.Error = err.Error()
			res.Files = append(res.Files, fc)
			continue
		}
		os.Remove(backup)
		os.Remove(f.Path + ManifestSuffix)
		fc.Changed = true
		res.Files = append(res.Files, fc)
	}
	return res, nil
}
