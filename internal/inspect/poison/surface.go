package poison

import "encoding/json"

// Surface is everything an MCP server shows a model about itself: the instructions from its initialize
// result and the items of its tools/list, prompts/list, resources/list and resources/templates/list
// results. Field names and JSON tags follow the MCP wire format, so a list result's array decodes
// straight into the matching slice.
type Surface struct {
	// Server is the gateway's name for this server; it only labels findings.
	Server            string             `json:"server,omitempty"`
	Instructions      string             `json:"instructions,omitempty"`
	Tools             []Tool             `json:"tools,omitempty"`
	Prompts           []Prompt           `json:"prompts,omitempty"`
	Resources         []Resource         `json:"resources,omitempty"`
	ResourceTemplates []ResourceTemplate `json:"resourceTemplates,omitempty"`
}

// Tool is one entry of a tools/list result. The schemas and annotations stay raw: every string inside
// them is scanned, whatever key holds it.
type Tool struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema,omitempty"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
	// Extra holds every other member of the item as the server sent it (_meta, icons, execution, and
	// whatever a later protocol revision or a hostile server adds): a model may be shown any of them,
	// so their strings are scanned too.
	Extra map[string]json.RawMessage `json:"-"`
}

// Prompt is one entry of a prompts/list result.
type Prompt struct {
	Name        string           `json:"name"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Arguments   []PromptArgument `json:"arguments,omitempty"`
	// Extra: see Tool.Extra.
	Extra map[string]json.RawMessage `json:"-"`
}

// PromptArgument is one argument of a Prompt.
type PromptArgument struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Extra: see Tool.Extra.
	Extra map[string]json.RawMessage `json:"-"`
}

// Resource is one entry of a resources/list result.
type Resource struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	URI         string `json:"uri"`
	MIMEType    string `json:"mimeType,omitempty"`
	// Extra: see Tool.Extra (annotations, _meta, icons …).
	Extra map[string]json.RawMessage `json:"-"`
}

// ResourceTemplate is one entry of a resources/templates/list result.
type ResourceTemplate struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	URITemplate string `json:"uriTemplate"`
	MIMEType    string `json:"mimeType,omitempty"`
	// Extra: see Tool.Extra.
	Extra map[string]json.RawMessage `json:"-"`
}

// Context is what the scanner knows about the rest of the gateway.
type Context struct {
	// OtherServers maps the name of every other server behind the gateway to its tool names. It drives
	// the cross-server shadowing rules; nil disables them.
	OtherServers map[string][]string `json:"otherServers,omitempty"`
}

// UnmarshalJSON decodes a tools/list entry, keeping the members Tool has no field for in Extra.
func (t *Tool) UnmarshalJSON(b []byte) error {
	type plain Tool
	return decodeWithExtra(b, (*plain)(t), &t.Extra, "name", "title", "description", "inputSchema", "outputSchema", "annotations")
}

// UnmarshalJSON decodes a prompts/list entry, keeping unknown members in Extra.
func (p *Prompt) UnmarshalJSON(b []byte) error {
	type plain Prompt
	return decodeWithExtra(b, (*plain)(p), &p.Extra, "name", "title", "description", "arguments")
}

// UnmarshalJSON decodes a prompt argument, keeping unknown members in Extra.
func (a *PromptArgument) UnmarshalJSON(b []byte) error {
	type plain PromptArgument
	return decodeWithExtra(b, (*plain)(a), &a.Extra, "name", "title", "description")
}

// UnmarshalJSON decodes a resources/list entry, keeping unknown members in Extra.
func (r *Resource) UnmarshalJSON(b []byte) error {
	type plain Resource
	return decodeWithExtra(b, (*plain)(r), &r.Extra, "name", "title", "description", "uri", "mimeType")
}

// UnmarshalJSON decodes a resources/templates/list entry, keeping unknown members in Extra.
func (r *ResourceTemplate) UnmarshalJSON(b []byte) error {
	type plain ResourceTemplate
	return decodeWithExtra(b, (*plain)(r), &r.Extra, "name", "title", "description", "uriTemplate", "mimeType")
}

// decodeWithExtra decodes b into v (a type without this method) and the members whose names are not
// known into extra (nil when there are none).
func decodeWithExtra(b []byte, v any, extra *map[string]json.RawMessage, known ...string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil // not an object (e.g. null): nothing more to keep
	}
	for _, k := range known {
		delete(all, k)
	}
	if len(all) == 0 {
		all = nil
	}
	*extra = all
	return nil
}
