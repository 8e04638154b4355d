package deploy

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	section := map[string]any{
		"production": map[string]any{
			"user": "deploy", "host": []any{"a.example", map[string]any{"host": "b.example"}}, "port": 2222.0,
			"ref": "origin/main", "repo": "git@example:app.git", "path": "/srv/app",
			"ssh_options": "StrictHostKeyChecking=no", "env": map[string]any{"node_env": "production"},
			"post-deploy": "tend reload ecosystem.config.js",
		},
		"broken": map[string]any{"host": "c.example"},
	}
	tg, err := Parse(section, "production")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tg.Hosts, ",") != "a.example,b.example" || tg.Port != "2222" || tg.Vars["NODE_ENV"] != "production" ||
		len(tg.SSHOptions) != 1 || tg.Hooks[PostDeploy] != "tend reload ecosystem.config.js" {
		t.Errorf("parsed %+v", tg)
	}
	h := &Host{T: tg, Name: "a.example"}
	if got := strings.Join(h.sshArgs(), " "); got != "-o StrictHostKeyChecking=no -p 2222 deploy@a.example" {
		t.Errorf("ssh %s", got)
	}
	if _, err := Parse(section, "broken"); err == nil || !strings.Contains(err.Error(), "needs path, ref, repo") {
		t.Errorf("missing fields: %v", err)
	}
	if _, err := Parse(section, "staging"); err == nil || !strings.Contains(err.Error(), "it has: broken, production") {
		t.Errorf("unknown environment: %v", err)
	}
	if _, err := Parse(nil, "production"); err == nil {
		t.Error("no deploy section: no error")
	}
}
