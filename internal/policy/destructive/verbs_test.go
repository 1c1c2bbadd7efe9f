package destructive

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitName(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"deleteRepo", []string{"delete", "repo"}},
		{"repo_delete", []string{"repo", "delete"}},
		{"rm-file", []string{"rm", "file"}},
		{"HTTPRequest2", []string{"http", "request", "2"}},
		{"github__delete_repo", []string{"github", "delete", "repo"}},
		{"server.tool/Name", []string{"server", "tool", "name"}},
		{"", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, splitName(tc.in)); diff != "" {
			t.Errorf("splitName(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestClassifyToolName(t *testing.T) {
	type view struct {
		Verb                     string
		Destructive, Write, Read bool
	}
	tests := []struct {
		name string
		want view
	}{
		{"deleteRepo", view{"delete", true, false, false}},
		{"repo_delete", view{"delete", true, false, false}},
		{"rm_file", view{"rm", true, false, false}},
		{"drop_table", view{"drop", true, false, false}},
		{"force_push", view{"force", true, false, false}},
		{"purgeCache", view{"purge", true, false, false}},
		{"kill-process", view{"kill", true, false, false}},
		{"terminate_instance", view{"terminate", true, false, false}},
		{"reset_branch", view{"reset", true, false, false}},
		{"revoke_token", view{"revoke", true, false, false}},
		{"overwrite_file", view{"overwrite", true, false, false}},
		{"wipe_disk", view{"wipe", true, false, false}},
		{"truncate_table", view{"truncate", true, false, false}},
		{"destroyStack", view{"destroy", true, false, false}},
		{"remove_member", view{"remove", true, false, false}},
		{"create_and_delete", view{"create", true, true, false}},
		{"get_force_push_status", view{"get", false, false, true}},
		{"list_drops", view{"list", false, false, true}},
		{"read_file", view{"read", false, false, true}},
		{"searchIssues", view{"search", false, false, true}},
		{"query", view{"query", false, false, true}},
		{"describe_table", view{"describe", false, false, true}},
		{"show_logs", view{"show", false, false, true}},
		{"fetch_url", view{"fetch", false, false, true}},
		{"create_issue", view{"create", false, true, false}},
		{"update_record", view{"update", false, true, false}},
		{"weather", view{"", false, false, false}},
		{"deleted_items_report", view{"", false, false, false}},
	}
	for _, tc := range tests {
		tf := classifyToolName(tc.name)
		got := view{tf.Verb, tf.Destructive, tf.Write, tf.Read}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("classifyToolName(%q) (-want +got):\n%s", tc.name, diff)
		}
	}
}
