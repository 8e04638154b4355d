package pm2

// Zero-downtime reload options (docs/reload.md). PM2 drops unknown keys, so a
// file that uses them still loads in PM2. (The alias tables over schema are
// built on first use, after every init has added its options.)
var reloadOptions = []*option{
	{key: "listen", types: []string{"array", "string", "number"}},
	{key: "reload_timeout", types: []string{"number", "string"}},
}

func init() {
	schema = append(schema, reloadOptions...)
	for _, o := range reloadOptions {
		tendOptions[o.key] = true
	}
}
