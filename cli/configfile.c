#include "configfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/utf8.h"
#include "core/xmalloc.h"

/* Deeper than any config; keeps the recursion below bounded. */
#define NESTING_MAX 32

DEFINE_CLEANUP_FUNC(struct fy_diag, fy_diag_destroy)
DEFINE_CLEANUP_FUNC(struct fy_parser, fy_parser_destroy)

/* What the conversion needs to name the file in a message. */
struct source {
        const char *name; /* "config.yaml", or "stdin" */
};

/* Reads fd to its end into *ret_data (NUL-terminated), refusing more than
 * CLI_CONFIG_FILE_MAX bytes. Returns 0 or a negative errno (-EFBIG: too big). */
static int read_bounded(int fd, char **ret_data, size_t *ret_len)
{
        size_t cap = 64 * 1024, len = 0;
        _cleanup_free_ char *data = xmalloc(cap + 1);

        for (;;) {
                if (len == cap) {
                        if (cap > CLI_CONFIG_FILE_MAX)
                                return -EFBIG;
                        cap *= 2;
                        data = xrealloc(data, cap + 1);
                }
                ssize_t n = read(fd, data + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > CLI_CONFIG_FILE_MAX)
                        return -EFBIG;
        }
        data[len] = 0;
        *ret_data = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

/* An error about node n: "NAME: line L, column C: ..." when libfyaml knows
 * where n is (marks count from 0), else "NAME: at /path: ...". */
static int fail_at(const struct source *src, struct fy_node *n, struct vol_error *err,
                   const char *what)
{
        struct fy_token *t = fy_node_get_tag_token(n);
        if (!t)
                t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (m)
                return vol_error_set(err, -EBADMSG, "%s: line %d, column %d: %s", src->name,
                                     m->line + 1, m->column + 1, what);
        _cleanup_free_ char *path = fy_node_get_path(n);
        return vol_error_set(err, -EBADMSG, "%s: at %s: %s", src->name, path ? path : "?", what);
}

static bool is_one_of(const char *s, size_t len, const char *const *words)
{
        for (; *words; words++)
                if (strlen(*words) == len && memcmp(*words, s, len) == 0)
                        return true;
        return false;
}

static int scalar_to_json(const struct source *src, struct fy_node *n, json_t **ret,
                          struct vol_error *err)
{
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
        static const char *const trues[] = {"true", "True", "TRUE", NULL};
        static const char *const falses[] = {"false", "False", "FALSE", NULL};
        static const char str_tag[] = "tag:yaml.org,2002:str";
        size_t len = 0, tag_len = 0;
        const char *s = fy_node_get_scalar(n, &len);
        const char *tag = fy_node_get_tag(n, &tag_len);

        if (!s)
                s = "";
        if (tag && !(tag_len == strlen(str_tag) && memcmp(tag, str_tag, tag_len) == 0)) {
                /* Named as written: !!int rather than tag:yaml.org,2002:int. */
                static const char core[] = "tag:yaml.org,2002:";
                bool is_core = tag_len > strlen(core) && memcmp(tag, core, strlen(core)) == 0;
                _cleanup_free_ char *what =
                    is_core ? xasprintf("the tag !!%.*s is not supported (only !!str)",
                                        (int)(tag_len - strlen(core)), tag + strlen(core))
                            : xasprintf("the tag %.*s is not supported (only !!str)", (int)tag_len,
                                        tag);
                return fail_at(src, n, err, what);
        }
        /* Only a plain, untagged scalar can be null or a boolean: "false"
         * quoted stays a string, as in YAML itself. */
        if (!tag && fy_node_get_style(n) == FYNS_PLAIN) {
                if (is_one_of(s, len, nulls)) {
                        *ret = json_null();
                        return 0;
                }
                if (is_one_of(s, len, trues) || is_one_of(s, len, falses)) {
                        *ret = json_boolean(is_one_of(s, len, trues));
                        return 0;
                }
        }
        if (memchr(s, 0, len))
                return fail_at(src, n, err, "a value contains a NUL character");
        json_t *j = json_stringn(s, len);
        if (!j)
                return fail_at(src, n, err, "a value is not valid UTF-8");
        *ret = j;
        return 0;
}

static int node_to_json(const struct source *src, struct fy_node *n, int depth, json_t **ret,
                        struct vol_error *err)
{
        if (depth > NESTING_MAX)
                return fail_at(src, n, err, "nested too deeply");
        if (fy_node_is_alias(n) || fy_node_get_anchor(n))
                return fail_at(src, n, err, "anchors and aliases are not supported");

        switch (fy_node_get_type(n)) {
        case FYNT_SCALAR:
                return scalar_to_json(src, n, ret, err);
        case FYNT_SEQUENCE: {
                _cleanup_(json_decrefp) json_t *a = json_array();
                void *it = NULL;
                struct fy_node *item;
                while ((item = fy_node_sequence_iterate(n, &it))) {
                        json_t *j = NULL;
                        int r = node_to_json(src, item, depth + 1, &j, err);
                        if (r < 0)
                                return r;
                        json_array_append_new(a, j);
                }
                *ret = TAKE_PTR(a);
                return 0;
        }
        case FYNT_MAPPING: {
                _cleanup_(json_decrefp) json_t *o = json_object();
                void *it = NULL;
                struct fy_node_pair *pair;
                while ((pair = fy_node_mapping_iterate(n, &it))) {
                        struct fy_node *key = fy_node_pair_key(pair);
                        if (!key || !fy_node_is_scalar(key) || fy_node_is_alias(key))
                                return fail_at(src, key ? key : n, err, "a key must be a string");
                        size_t len = 0;
                        const char *k = fy_node_get_scalar(key, &len);
                        _cleanup_free_ char *name = xstrndup(k ? k : "", len);
                        if (strlen(name) != len)
                                return fail_at(src, key, err, "a key contains a NUL character");
                        json_t *j = NULL;
                        struct fy_node *value = fy_node_pair_value(pair);
                        int r = value ? node_to_json(src, value, depth + 1, &j, err) : 0;
                        if (r < 0)
                                return r;
                        if (json_object_set_new(o, name, j ? j : json_null()) < 0)
                                return fail_at(src, key, err, "a key is not valid UTF-8");
                }
                *ret = TAKE_PTR(o);
                return 0;
        }
        default:
                return fail_at(src, n, err, "unexpected YAML node");
        }
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
        /* collected and reported through struct vol_error instead */
}

/* The first error libfyaml collected, as "NAME: line L, column C: MSG". */
static int parse_failed(const struct source *src, struct fy_diag *diag, struct vol_error *err)
{
        void *it = NULL;
        struct fy_diag_error *e;
        while ((e = fy_diag_errors_iterate(diag, &it))) {
                if (e->type < FYET_ERROR)
                        continue;
                /* Unlike node marks, collected errors count from 1. */
                if (e->line > 0)
                        return vol_error_set(err, -EBADMSG,
                                             "%s: line %d, column %d: invalid YAML: %s", src->name,
                                             e->line, e->column, e->msg ? e->msg : "?");
                return vol_error_set(err, -EBADMSG, "%s: invalid YAML: %s", src->name,
                                     e->msg ? e->msg : "?");
        }
        return vol_error_set(err, -EBADMSG, "%s: invalid YAML", src->name);
}

static int convert(const struct source *src, const char *data, size_t len, json_t **ret_obj,
                   struct vol_error *err)
{
        /* The parser may stop at a malformed byte as if the stream ended
         * there: a file with one would lose its rest without a word. */
        size_t bad = vol_utf8_invalid_at(data, len);
        const char *nul = memchr(data, 0, len);
        if (nul && (size_t)(nul - data) < bad)
                bad = (size_t)(nul - data); /* YAML has no NUL; libfyaml 0.7.12 crashes on some */
        if (bad < len) {
                int line = 1, column = 1;
                for (size_t i = 0; i < bad; i++) {
                        if (data[i] == '\n') {
                                line++;
                                column = 1;
                        } else if (((unsigned char)data[i] & 0xc0) != 0x80) {
                                column++;
                        }
                }
                return vol_error_set(err, -EBADMSG, "%s: line %d, column %d: %s (byte 0x%02x)", src->name,
                                     line, column, data[bad] ? "not valid UTF-8" : "a NUL byte, which YAML does not allow",
                                     (unsigned char)data[bad]);
        }
        struct fy_diag_cfg dcfg;
        fy_diag_cfg_default(&dcfg);
        dcfg.fp = NULL;
        dcfg.output_fn = diag_discard;
        _cleanup_(fy_diag_destroyp) struct fy_diag *diag = fy_diag_create(&dcfg);
        if (!diag)
                return vol_error_set(err, -ENOMEM, "%s: cannot set up the YAML parser", src->name);
        fy_diag_set_collect_errors(diag, true);

        /* No FYPCF_RESOLVE_DOCUMENT: aliases stay aliases and are refused, so
         * a small file cannot expand into a huge one. */
        const struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET, .diag = diag};
        _cleanup_(fy_parser_destroyp) struct fy_parser *parser = fy_parser_create(&cfg);
        if (!parser || fy_parser_set_string(parser, data, len) != 0)
                return vol_error_set(err, -ENOMEM, "%s: cannot set up the YAML parser", src->name);

        struct fy_document *doc = fy_parse_load_document(parser);
        if (!doc) {
                if (fy_diag_got_error(diag))
                        return parse_failed(src, diag, err);
                return vol_error_set(err, -EBADMSG,
                                     "%s: no config in it (write {} to set an empty layer)",
                                     src->name);
        }
        int r = 0;
        struct fy_document *more = fy_parse_load_document(parser);
        struct fy_node *root = fy_document_root(doc);
        if (more) {
                fy_parse_document_destroy(parser, more);
                r = vol_error_set(err, -EBADMSG, "%s: more than one YAML document ('---')",
                                  src->name);
        } else if (fy_diag_got_error(diag)) {
                r = parse_failed(src, diag, err);
        } else if (!root) {
                r = vol_error_set(err, -EBADMSG,
                                  "%s: no config in it (write {} to set an empty layer)",
                                  src->name);
        } else if (!fy_node_is_mapping(root)) {
                r = vol_error_set(err, -EBADMSG,
                                  "%s: the top level must be a mapping of fields "
                                  "(writeableVolumes: ..., tmpSize: ...)",
                                  src->name);
        } else {
                r = node_to_json(src, root, 0, ret_obj, err);
        }
        fy_parse_document_destroy(parser, doc);
        return r;
}

int cli_config_text_to_json(const char *name, const char *data, size_t len, json_t **ret_obj,
                            struct vol_error *err)
{
        const struct source src = {.name = name};
        json_t *obj = NULL;
        int r = convert(&src, data, len, &obj, err);
        if (r < 0)
                return r;
        *ret_obj = obj;
        return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
        const char *p = buf;
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* In the child: the conversion, and its outcome down fd as "R\n" (0 or the
 * negative errno) then the JSON object or the message. Never returns. */
static void __attribute__((noreturn)) convert_in_child(int fd, const char *name, const char *data, size_t len)
{
        struct rlimit cpu = {.rlim_cur = 20, .rlim_max = 20}; /* a parser that loops ends */
        setrlimit(RLIMIT_CPU, &cpu);
        /* a crash ends the child by its signal, whatever handler it inherited */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
                signal(fatal[i], SIG_DFL);
        struct vol_error e = VOL_ERROR_INIT;
        json_t *obj = NULL;
        int r = cli_config_text_to_json(name, data, len, &obj, &e);
        char *body = r == 0 ? json_dumps(obj, JSON_COMPACT) : NULL;
        if (r == 0 && !body)
                r = vol_error_set(&e, -ENOMEM, "%s: out of memory", name);
        char head[24];
        int n = snprintf(head, sizeof(head), "%d\n", r);
        const char *rest = r == 0 ? body : vol_error_message(&e);
        int ok = write_all(fd, head, (size_t)n) == 0 && write_all(fd, rest, strlen(rest)) == 0;
        _exit(ok ? 0 : 1); /* no atexit handler, no stdio flush: they are the parent's */
}

/* The child's answer can be longer than the text (escapes), within reason. */
#define ANSWER_MAX (8 * CLI_CONFIG_FILE_MAX + 4096)

int cli_config_text_to_json_isolated(const char *name, const char *data, size_t len, json_t **ret_obj,
                                     struct vol_error *err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return vol_error_set(err, -EBADMSG, "%s: cannot start the YAML parser: %s", name, strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return vol_error_set(err, -EBADMSG, "%s: cannot start the YAML parser: %s", name, strerror(e));
        }
        if (pid == 0) {
                close(p[0]);
                convert_in_child(p[1], name, data, len);
        }
        close(p[1]);
        size_t cap = 64 * 1024, n = 0;
        _cleanup_free_ char *buf = xmalloc(cap + 1);
        bool too_long = false;
        for (;;) {
                if (n == cap) {
                        if (cap >= ANSWER_MAX) {
                                too_long = true;
                                break;
                        }
                        cap *= 2;
                        buf = xrealloc(buf, cap + 1);
                }
                ssize_t got = read(p[0], buf + n, cap - n);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        break;
                n += (size_t)got;
        }
        buf[n] = 0;
        close(p[0]);
        int status = 0;
        if (too_long)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        char *nl = strchr(buf, '\n');
        if (too_long || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !nl) {
                char why[64];
                if (WIFSIGNALED(status))
                        snprintf(why, sizeof(why), "%s",
                                 WTERMSIG(status) == SIGXCPU ? "it took too long" : strsignal(WTERMSIG(status)));
                else if (too_long)
                        snprintf(why, sizeof(why), "its answer was too long");
                else
                        snprintf(why, sizeof(why), "it ended with status %d", WEXITSTATUS(status));
                return vol_error_set(err, -EBADMSG,
                                     "%s: the YAML parser failed on it (%s): check its syntax, or write it "
                                     "as JSON",
                                     name, why);
        }
        int r = atoi(buf);
        if (r < 0)
                return vol_error_set(err, r, "%s", nl + 1);
        json_t *obj = json_loads(nl + 1, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(obj)) {
                json_decref(obj);
                return vol_error_set(err, -EBADMSG, "%s: the YAML parser gave no answer", name);
        }
        *ret_obj = obj;
        return 0;
}

int cli_config_file_read(const char *path, json_t **ret_obj, struct vol_error *err)
{
        bool from_stdin = strcmp(path, "-") == 0;
        const struct source src = {.name = from_stdin ? "stdin" : path};
        _cleanup_close_ int fd = from_stdin ? -1 : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (!from_stdin && fd < 0)
                return vol_error_set(err, -EBADMSG, "cannot open %s: %s", path, strerror(errno));

        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_bounded(from_stdin ? STDIN_FILENO : fd, &data, &len);
        if (r == -EFBIG)
                return vol_error_set(err, -EBADMSG, "%s is larger than %zu MiB", src.name,
                                     CLI_CONFIG_FILE_MAX >> 20);
        if (r < 0)
                return vol_error_set(err, -EBADMSG, "cannot read %s: %s", src.name, strerror(-r));

        return cli_config_text_to_json_isolated(src.name, data, len, ret_obj, err);
}
