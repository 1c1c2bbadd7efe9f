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
}

// Prompt is one entry of a prompts/list result.
type Prompt struct {
	Name        string           `json:"name"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Arguments   []PromptArgument `json:"arguments,omitempty"`
}

// PromptArgument is one argument of a Prompt.
type PromptArgument struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// Resource is one entry of a resources/list result.
type Resource struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	URI         string `json:"uri"`
	MIMEType    string `json:"mimeType,omitempty"`
}

// ResourceTemplate is one entry of a resources/templates/list result.
type ResourceTemplate struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	URITemplate string `json:"uriTemplate"`
	MIMEType    string `json:"mimeType,omitempty"`
}

// Context is what the scanner knows about the rest of the gateway.
type Context struct {
	// OtherServers maps the name of every other server behind the gateway to its tool names. It drives
	// the cross-server shadowing rules; nil disables them.
	OtherServers map[string][]string `json:"otherServers,omitempty"`
}
