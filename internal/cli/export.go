package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/export"
)

func (a *app) exportCmd() *cobra.Command {
	var out, envName, image, only, workdir, project string
	cmd := &cobra.Command{
		Use:   "export <" + strings.Join(export.Engines, "|") + "> [ecosystem file]",
		Short: "Translate an ecosystem file into the manifests of another engine (Kubernetes, ECS, Compose, systemd, Nomad)",
		Long: `Translate the apps of an ecosystem file, as tend resolves them, into the
manifests of an engine that then runs them. Without --out everything goes to
stdout; with --out, one file per object or unit. What the engine cannot carry
over is named on stderr. Paths under the current folder become --workdir in
the image (or on the machine, for systemd).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			engine := args[0]
			if engine == "k8s" {
				engine = "kubernetes"
			}
			if !contains(export.Engines, engine) {
				return fmt.Errorf("unknown engine %q: use one of %s", engine, strings.Join(export.Engines, ", "))
			}
			_, eco, err := a.loadEcosystem(args[1:])
			if err != nil {
				return err
			}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			apps, err := export.Resolve(eco, export.ResolveOptions{BaseDir: wd, EnvName: envName, Only: splitList(only)})
			if err != nil {
				return err
			}
			res, err := export.Export(engine, apps, export.Options{Project: project, Image: image, BaseDir: wd, Workdir: workdir})
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintf(a.stderr, "[tend][export %s] %s\n", res.Engine, n)
			}
			if out == "" {
				_, err := a.stdout.Write(res.Stream)
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for _, f := range res.Files {
				if err := os.WriteFile(filepath.Join(out, f.Name), f.Data, 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.stderr, "[tend] %d file(s) written to %s\n", len(res.Files), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write one file per object or unit into this folder (default: stdout)")
	cmd.Flags().StringVar(&envName, "env", "", "use env_<name>")
	cmd.Flags().StringVar(&image, "image", "", "the container image that holds the apps (default <project>:latest)")
	cmd.Flags().StringVar(&only, "only", "", "only these apps (a,b) and what they depend on")
	cmd.Flags().StringVar(&workdir, "workdir", "", "where the current folder is on the target (default /app, or /opt/<project> for systemd)")
	cmd.Flags().StringVar(&project, "project", "", "name of the whole (compose project, Nomad job, ECS family, unit prefix; default: the current folder's name)")
	return cmd
}
