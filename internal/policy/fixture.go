package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// A fixture file lists inputs and the decisions a policy must give them (`mcpwarden policy test FILE`):
//
//	policy: ./policy.yaml        # optional: the policy under test, relative to this file; default: the shipped one
//	cases:
//	  - name: DROP TABLE asks
//	    input:
//	      server: postgres
//	      tool: query            # or name:, with method: prompts/get or resources/read
//	      arguments: {sql: "DROP TABLE users"}
//	      user: alice            # also groups, auth, claims, client, labels, findings, meta, annotations
//	    expect: ask              # allow | deny | ask
//	    rule: default-ask-destructive   # optional: the rule that must decide ("" = the default effect)
type fixtureFile struct {
	Policy string        `yaml:"policy"`
	Cases  []FixtureCase `yaml:"cases"`
}

// FixtureCase is one case of a fixture file: an input and the decision expected for it.
type FixtureCase struct {
	Name   string       `yaml:"name"`
	Input  FixtureInput `yaml:"input"`
	Expect string       `yaml:"expect"`
	Rule   *string      `yaml:"rule"`
	Hidden *bool        `yaml:"hidden"`
	line   int
}

// Line is the case's line in its file.
func (c FixtureCase) Line() int { return c.line }

// FixtureInput is a case's input, written with plain YAML values.
type FixtureInput struct {
	Server      string         `yaml:"server"`
	Method      string         `yaml:"method"`
	Tool        string         `yaml:"tool"`
	Name        string         `yaml:"name"`
	Arguments   any            `yaml:"arguments"`
	Meta        any            `yaml:"meta"`
	Annotations map[string]any `yaml:"annotations"`
	Description string         `yaml:"description"`
	User        string         `yaml:"user"`
	Groups      []string       `yaml:"groups"`
	Auth        string         `yaml:"auth"`
	Claims      map[string]any `yaml:"claims"`
	Client      string         `yaml:"client"`
	Labels      []string       `yaml:"labels"`
	Findings    []string       `yaml:"findings"`
	// SessionServers and ToolLabels are the data-flow state (session.servers, tool.labels).
	SessionServers []string `yaml:"session_servers"`
	ToolLabels     []string `yaml:"tool_labels"`
}

// FixtureResult is the outcome of one fixture case.
type FixtureResult struct {
	File, Name string
	Line       int
	Pass       bool
	// Got is the decision; Problem says what differed (empty when Pass).
	Got     Decision
	Problem string
}

// LoadFixtures reads a fixture file. The policy it names is returned as a Source (nil when it names none).
func LoadFixtures(path string) (*Source, []FixtureCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading fixtures: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		e := yamlErr(path, err)
		return nil, nil, e
	}
	if len(doc.Content) == 0 {
		return nil, nil, &Error{File: path, Msg: "no cases: write cases: [{name, input, expect}]"}
	}
	var ff fixtureFile
	dec := doc.Content[0]
	if err := dec.Decode(&ff); err != nil {
		return nil, nil, &Error{File: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if err := strictKeys(path, dec); err != nil {
		return nil, nil, err
	}
	// Line numbers of the cases, for reports.
	for i := 0; i+1 < len(dec.Content); i += 2 {
		if dec.Content[i].Value == "cases" {
			for j, c := range dec.Content[i+1].Content {
				if j < len(ff.Cases) {
					ff.Cases[j].line = c.Line
				}
			}
		}
	}
	var src *Source
	if ff.Policy != "" {
		p := ff.Policy
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		src = &Source{File: p, Name: p}
	}
	for i, c := range ff.Cases {
		switch Effect(c.Expect) {
		case Allow, Deny, Ask:
		default:
			return nil, nil, &Error{File: path, Line: c.line, Msg: fmt.Sprintf("case %d (%s): expect %q is not valid: use allow, deny or ask", i+1, c.Name, c.Expect)}
		}
	}
	return src, ff.Cases, nil
}

var fixtureKeys = map[string]bool{"policy": true, "cases": true}
var caseKeys = map[string]bool{"name": true, "input": true, "expect": true, "rule": true, "hidden": true}
var inputKeys = map[string]bool{"server": true, "method": true, "tool": true, "name": true, "arguments": true, "meta": true,
	"annotations": true, "description": true, "user": true, "groups": true, "auth": true, "claims": true, "client": true,
	"labels": true, "findings": true, "session_servers": true, "tool_labels": true}

// strictKeys rejects unknown keys, so a misspelt expectation cannot silently pass.
func strictKeys(path string, n *yaml.Node) error {
	check := func(m *yaml.Node, known map[string]bool, where string) error {
		if m.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if !known[m.Content[i].Value] {
				return &Error{File: path, Line: m.Content[i].Line, Msg: fmt.Sprintf("unknown key %q in %s", m.Content[i].Value, where)}
			}
		}
		return nil
	}
	if err := check(n, fixtureKeys, "the fixture file"); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "cases" {
			continue
		}
		for _, c := range n.Content[i+1].Content {
			if err := check(c, caseKeys, "a case"); err != nil {
				return err
			}
			for j := 0; j+1 < len(c.Content); j += 2 {
				if c.Content[j].Value == "input" {
					if err := check(c.Content[j+1], inputKeys, "a case's input"); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// RunFixtures evaluates every case of a fixture file against p.
func RunFixtures(p *Policy, file string, cases []FixtureCase) []FixtureResult {
	out := make([]FixtureResult, 0, len(cases))
	for _, c := range cases {
		in := c.Input.toInput()
		d := p.Evaluate(&in)
		r := FixtureResult{File: file, Name: c.Name, Line: c.line, Got: d, Pass: true}
		var problems []string
		if string(d.Effect) != c.Expect {
			problems = append(problems, fmt.Sprintf("expected %s, got %s", c.Expect, d.Effect))
		}
		if c.Rule != nil && *c.Rule != d.RuleID {
			problems = append(problems, fmt.Sprintf("expected rule %q, got %q", *c.Rule, d.RuleID))
		}
		if c.Hidden != nil && *c.Hidden != d.Hidden {
			problems = append(problems, fmt.Sprintf("expected hidden=%v, got %v", *c.Hidden, d.Hidden))
		}
		if len(problems) > 0 {
			r.Pass, r.Problem = false, strings.Join(problems, "; ")+" ("+d.Reason+")"
		}
		out = append(out, r)
	}
	return out
}

func (fi FixtureInput) toInput() Input {
	in := Input{Server: fi.Server, Method: fi.Method, Name: fi.Name, ClientName: fi.Client, Labels: fi.Labels, Findings: fi.Findings, SessionServers: fi.SessionServers, ToolLabels: fi.ToolLabels,
		Principal: Principal{User: fi.User, Groups: fi.Groups, Auth: fi.Auth, Claims: fi.Claims}}
	if in.Name == "" {
		in.Name = fi.Tool
	}
	if in.Method == "" {
		in.Method = "tools/call"
	}
	if in.Principal.Auth == "" {
		in.Principal.Auth = "local"
	}
	if fi.Arguments != nil {
		in.Arguments, _ = json.Marshal(fi.Arguments)
	}
	if fi.Meta != nil {
		in.Meta, _ = json.Marshal(fi.Meta)
	}
	if fi.Annotations != nil || fi.Description != "" {
		in.Tool = &ToolDef{Name: in.Name, Description: fi.Description}
		if fi.Annotations != nil {
			in.Tool.Annotations, _ = json.Marshal(fi.Annotations)
		}
	}
	return in
}
