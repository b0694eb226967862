/* engine_probe: one call of volmand's Engine API client (engine/engine.h)
 * per run, for tests/engines/test_engine_client_real.py to drive against the
 * real dockerd and Podman (and against fake engines for answers no engine
 * should give).
 *
 *   engine_probe unix:///path/engine.sock COMMAND ARGS...
 *     inspect IMAGE                       {"id", "entrypoint", "cmd", "user", "working_dir", "env"}
 *     create SPEC                         {"id"}
 *     start ID                            {}
 *     wait ID TIMEOUT_MS                  {"exit_code", "elapsed_ms"}
 *     state ID                            {"status", "exit_code"}
 *     logs ID MAX_BYTES                   the text itself, as bytes
 *     archive ID PATH OUTFILE MAX_BYTES   {"max_rss_kb"}, the tar stream in OUTFILE
 *     remove ID                           {}
 *     run SPEC TIMEOUT_MS LOG_MAX         create, start, wait, logs, state:
 *                                         {"id", "exit_code", "status", "logs"}
 *
 * SPEC is a JSON object: name, image, cmd, entrypoint, user, env,
 * working_dir, nano_cpus, network_mode, read_only_rootfs, tmp_bytes,
 * pids_limit, memory_bytes, cap_add, labels, and mounts (a list of
 * {"volume" or "bind", "target", "read_only"}).
 *
 * Results are JSON on stdout with exit status 0; a failed call prints
 * {"error": {"errno": "ENOENT", "code": -2, "message": ...}} and exits 2;
 * bad usage exits 64. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/error.h"
#include "core/kv.h"
#include "engine/engine.h"

static int usage(void)
{
        fprintf(stderr, "usage: engine_probe unix:///path/engine.sock "
                        "inspect|create|start|wait|state|logs|archive|remove|run ARGS...\n");
        return 64;
}

static int failed(struct vol_error *err)
{
        const char *name = strerrorname_np(-err->code);
        json_t *out = json_pack("{s:{s:s, s:i, s:s}}", "error", "errno", name ? name : "?", "code", err->code,
                                "message", vol_error_message(err));
        json_dumpf(out, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(out);
        vol_error_clear(err);
        return 2;
}

static int print(json_t *out)
{
        json_dumpf(out, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(out);
        return 0;
}

static json_t *strings_json(char **v, size_t n)
{
        if (!v)
                return json_null();
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The container spec in a JSON object, pointing into it (and into the
 * arrays it allocates, freed by spec_free). */
struct probe_spec {
        struct vol_container_spec spec;
        const char **cmd, **entrypoint, **env, **caps;
        struct vol_engine_mount *mounts;
        struct vol_kvs labels;
};

static const char **strings_of(json_t *v, size_t *ret_n)
{
        *ret_n = 0;
        if (!json_is_array(v))
                return NULL;
        const char **a = calloc(json_array_size(v) + 1, sizeof(*a));
        for (size_t i = 0; i < json_array_size(v); i++)
                a[i] = json_string_value(json_array_get(v, i));
        *ret_n = json_array_size(v);
        return a;
}

static const char *string_of(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

static void spec_from_json(json_t *j, struct probe_spec *p)
{
        memset(p, 0, sizeof(*p));
        struct vol_container_spec *s = &p->spec;
        s->name = string_of(j, "name");
        s->image = string_of(j, "image");
        p->cmd = strings_of(json_object_get(j, "cmd"), &s->n_cmd);
        s->cmd = p->cmd;
        p->entrypoint = strings_of(json_object_get(j, "entrypoint"), &s->n_entrypoint);
        s->entrypoint = p->entrypoint;
        p->env = strings_of(json_object_get(j, "env"), &s->n_env);
        s->env = p->env;
        p->caps = strings_of(json_object_get(j, "cap_add"), &s->n_cap_add);
        s->cap_add = p->caps;
        s->user = string_of(j, "user");
        s->working_dir = string_of(j, "working_dir");
        s->network_mode = string_of(j, "network_mode");
        s->read_only_rootfs = json_is_true(json_object_get(j, "read_only_rootfs"));
        s->nano_cpus = (uint64_t)json_integer_value(json_object_get(j, "nano_cpus"));
        s->tmp_bytes = (uint64_t)json_integer_value(json_object_get(j, "tmp_bytes"));
        s->pids_limit = json_integer_value(json_object_get(j, "pids_limit"));
        s->memory_bytes = (uint64_t)json_integer_value(json_object_get(j, "memory_bytes"));
        json_t *mounts = json_object_get(j, "mounts");
        s->n_mounts = json_array_size(mounts);
        p->mounts = calloc(s->n_mounts + 1, sizeof(*p->mounts));
        for (size_t i = 0; i < s->n_mounts; i++) {
                json_t *m = json_array_get(mounts, i);
                p->mounts[i] = (struct vol_engine_mount){
                        .volume = string_of(m, "volume"),
                        .bind = string_of(m, "bind"),
                        .target = string_of(m, "target"),
                        .read_only = json_is_true(json_object_get(m, "read_only")),
                };
        }
        s->mounts = p->mounts;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(j, "labels"), k, v)
                vol_kvs_set(&p->labels, k, json_string_value(v));
        s->labels = &p->labels;
}

static void spec_free(struct probe_spec *p)
{
        free(p->cmd);
        free(p->entrypoint);
        free(p->env);
        free(p->caps);
        free(p->mounts);
        vol_kvs_free(&p->labels);
}

static json_t *spec_arg(const char *text)
{
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (!json_is_object(j)) {
                fprintf(stderr, "engine_probe: SPEC is not a JSON object: %s\n", jerr.text);
                exit(64);
        }
        return j;
}

static int cmd_inspect(struct vol_engine *e, char **argv, struct vol_error *err)
{
        struct vol_image_info info;
        int r = vol_engine_image_inspect(e, argv[0], &info, err);
        if (r < 0)
                return failed(err);
        json_t *out = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "id", info.id, "entrypoint",
                                strings_json(info.entrypoint, info.n_entrypoint), "cmd",
                                strings_json(info.cmd, info.n_cmd), "user",
                                info.user ? json_string(info.user) : json_null(), "working_dir",
                                info.working_dir ? json_string(info.working_dir) : json_null(), "env",
                                strings_json(info.env, info.n_env));
        vol_image_info_free(&info);
        vol_image_info_free(&info); /* twice: it zeroes what it freed */
        return print(out);
}

static int cmd_create(struct vol_engine *e, char **argv, struct vol_error *err)
{
        json_t *j = spec_arg(argv[0]);
        struct probe_spec p;
        spec_from_json(j, &p);
        _cleanup_free_ char *id = NULL;
        int r = vol_engine_container_create(e, &p.spec, &id, err);
        spec_free(&p);
        json_decref(j);
        if (r < 0)
                return failed(err);
        return print(json_pack("{s:s}", "id", id));
}

static int cmd_start(struct vol_engine *e, char **argv, struct vol_error *err)
{
        if (vol_engine_container_start(e, argv[0], err) < 0)
                return failed(err);
        return print(json_object());
}

static int cmd_remove(struct vol_engine *e, char **argv, struct vol_error *err)
{
        if (vol_engine_container_remove(e, argv[0], err) < 0)
                return failed(err);
        return print(json_object());
}

static int cmd_wait(struct vol_engine *e, char **argv, struct vol_error *err)
{
        int code = -12345;
        int64_t t0 = now_ms();
        int r = vol_engine_container_wait(e, argv[0], atoi(argv[1]), &code, err);
        int64_t elapsed = now_ms() - t0;
        if (r < 0) {
                fprintf(stderr, "engine_probe: the wait failed after %lld ms\n", (long long)elapsed);
                if (code != -12345)
                        fprintf(stderr, "engine_probe: the exit code was written on failure\n");
                return failed(err);
        }
        return print(json_pack("{s:i, s:I}", "exit_code", code, "elapsed_ms", (json_int_t)elapsed));
}

static int cmd_state(struct vol_engine *e, char **argv, struct vol_error *err)
{
        _cleanup_free_ char *status = NULL;
        int code;
        if (vol_engine_container_inspect_state(e, argv[0], &status, &code, err) < 0)
                return failed(err);
        return print(json_pack("{s:s, s:i}", "status", status, "exit_code", code));
}

static int cmd_logs(struct vol_engine *e, char **argv, struct vol_error *err)
{
        char *text = NULL;
        if (vol_engine_container_logs(e, argv[0], strtoull(argv[1], NULL, 10), &text, err) < 0) {
                if (text)
                        fprintf(stderr, "engine_probe: the text was written on failure\n");
                return failed(err);
        }
        fputs(text, stdout);
        free(text);
        return 0;
}

static int cmd_archive(struct vol_engine *e, char **argv, struct vol_error *err)
{
        _cleanup_close_ int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                perror(argv[2]);
                return 64;
        }
        if (vol_engine_container_archive(e, argv[0], argv[1], fd, strtoull(argv[3], NULL, 10), err) < 0)
                return failed(err);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return print(json_pack("{s:I}", "max_rss_kb", (json_int_t)ru.ru_maxrss));
}

static int cmd_run(struct vol_engine *e, char **argv, struct vol_error *err)
{
        json_t *j = spec_arg(argv[0]);
        struct probe_spec p;
        spec_from_json(j, &p);
        _cleanup_free_ char *id = NULL, *logs = NULL, *status = NULL;
        int code = 0, state_code = 0;
        int r = vol_engine_container_create(e, &p.spec, &id, err);
        spec_free(&p);
        json_decref(j);
        if (r < 0 || vol_engine_container_start(e, id, err) < 0 ||
            vol_engine_container_wait(e, id, atoi(argv[1]), &code, err) < 0 ||
            vol_engine_container_logs(e, id, strtoull(argv[2], NULL, 10), &logs, err) < 0 ||
            vol_engine_container_inspect_state(e, id, &status, &state_code, err) < 0) {
                if (id)
                        fprintf(stderr, "engine_probe: container %s is left\n", id);
                return failed(err);
        }
        json_t *text = json_string(logs);
        return print(json_pack("{s:s, s:i, s:s, s:i, s:o}", "id", id, "exit_code", code, "status", status,
                               "state_exit_code", state_code, "logs", text ? text : json_null()));
}

static const struct {
        const char *name;
        int args;
        int (*run)(struct vol_engine *e, char **argv, struct vol_error *err);
} commands[] = {
        {"inspect", 1, cmd_inspect}, {"create", 1, cmd_create}, {"start", 1, cmd_start},
        {"wait", 2, cmd_wait},       {"state", 1, cmd_state},   {"logs", 2, cmd_logs},
        {"archive", 4, cmd_archive}, {"remove", 1, cmd_remove}, {"run", 3, cmd_run},
};

int main(int argc, char **argv)
{
        if (argc < 3)
                return usage();
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_engine *e = NULL;
        if (vol_engine_open(argv[1], &e, &err) < 0)
                return failed(&err);
        int rc = -1;
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (!strcmp(argv[2], commands[i].name))
                        rc = argc - 3 == commands[i].args ? commands[i].run(e, argv + 3, &err) : usage();
        vol_engine_close(e);
        return rc < 0 ? usage() : rc;
}
