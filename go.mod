module github.com/mcpwarden/mcpwarden

go 1.26
