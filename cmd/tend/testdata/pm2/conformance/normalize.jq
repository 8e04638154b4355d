# The fields of a jlist that the conformance suite compares; an absent key
# is "<absent>". $stdout and $files come from record.sh.
def field(k): if has(k) then .[k] else "<absent>" end;
{
  exits: $exits,
  stdout: $stdout,
  files: $files,
  procs: (sort_by(.pm_id) | map({
    name, pm_id,
    status: .pm2_env.status,
    namespace: .pm2_env.namespace,
    exec_mode: .pm2_env.exec_mode,
    instances: .pm2_env.instances,
    autorestart: .pm2_env.autorestart,
    restart_time: .pm2_env.restart_time,
    watch: (.pm2_env | field("watch")),
    args: (.pm2_env | field("args")),
    version: (.pm2_env | field("version")),
    NODE_ENV: (.pm2_env | field("NODE_ENV")),
    instance_var: .pm2_env.instance_var,
    INSTANCE_ID: (.pm2_env | field("INSTANCE_ID")),
  }))
}
