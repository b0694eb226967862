/* listen_bench: the HTTPS listener against the unix socket, and the console's
 * data calls at scale (bench/listen.sh runs it; see bench/README.md).
 *
 *   listen_bench --socket S --port P --ca CERT --token TOKEN --tenant T
 *                [--volumes N] [--rounds R] [--requests K]
 *
 * 1. Makes N volumes of tenant T over the unix socket (spread over 4 envs and
 *    250 apps, with an app layer for each of the first 50 apps), unless they
 *    are there.
 * 2. Inspect of one of them, K times per round on one kept-alive connection:
 *    over the unix socket (the admin) and over TLS with T's bearer token, the
 *    two interleaved round by round. Prints the median of each round's median.
 * 3. The console's data calls over TLS with the token, K/10 times each:
 *    whoami, the app list, one app's page, a candidate layer's check, the
 *    first page of volumes, and a filtered page. Prints median and p99 each. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"

static struct hc_conn unix_conn, tls_conn;

static void die(const char *what, int r, const struct hc_response *resp)
{
        fprintf(stderr, "listen_bench: %s: %s (status %d: %.300s)\n", what, r < 0 ? strerror(-r) : "bad status",
                resp ? resp->status : 0, resp && resp->body ? resp->body : "");
        exit(1);
}

static void call(struct hc_conn *c, const char *method, const char *path, const char *body, int want,
                 struct hc_response *resp)
{
        int r = hc_request(c, method, path, "application/json", body, resp);
        if (r < 0 || resp->status != want)
                die(path, r, resp);
}

static uint32_t median_us(struct hc_conn *c, const char *method, const char *path, const char *body, int n,
                          uint32_t *lat, uint32_t *p99)
{
        struct hc_response resp = {0};
        for (int i = 0; i < n; i++) {
                uint64_t t0 = hc_now_ns();
                call(c, method, path, body, 200, &resp);
                lat[i] = (uint32_t)((hc_now_ns() - t0) / 1000);
        }
        hc_response_free(&resp);
        qsort(lat, (size_t)n, sizeof(*lat), hc_cmp_u32);
        if (p99)
                *p99 = hc_percentile(lat, (size_t)n, 99);
        return hc_percentile(lat, (size_t)n, 50);
}

static void populate(const char *tenant, int n)
{
        struct hc_response resp = {0};
        char path[256], body[512];
        int r = hc_request(&unix_conn, "GET", "/v1/volumes?limit=10000", NULL, NULL, &resp);
        if (r < 0 || resp.status != 200)
                die("listing volumes", r, &resp);
        int have = 0;
        for (const char *p = resp.body; (p = strstr(p, "\"id\":")); p++)
                have++;
        if (have >= n) {
                hc_response_free(&resp);
                return;
        }
        for (int i = 0; i < 50; i++) {
                snprintf(path, sizeof(path), "/v1/tenants/%s/envs/e%d/apps/a%d/config", tenant, i % 4, i);
                snprintf(body, sizeof(body), "{\"writeableVolumes\":[\"/d%d\",\"/var/lib/state\"]}", i);
                call(&unix_conn, "PUT", path, body, 200, &resp);
        }
        for (int i = have; i < n; i++) {
                snprintf(body, sizeof(body),
                         "{\"scope\":{\"tenant\":\"%s\",\"env\":\"e%d\",\"app\":\"a%d\",\"path\":\"/d%d\"}}", tenant,
                         i % 4, i % 250, i);
                call(&unix_conn, "POST", "/v1/volumes", body, 201, &resp);
        }
        hc_response_free(&resp);
}

int main(int argc, char **argv)
{
        const char *sock = NULL, *ca = NULL, *token = NULL, *tenant = NULL;
        int port = 0, volumes = 10000, rounds = 5, requests = 5000;
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},  {"port", required_argument, NULL, 'p'},
                {"ca", required_argument, NULL, 'c'},      {"token", required_argument, NULL, 't'},
                {"tenant", required_argument, NULL, 'T'},  {"volumes", required_argument, NULL, 'v'},
                {"rounds", required_argument, NULL, 'r'},  {"requests", required_argument, NULL, 'n'},
                {0},
        };
        int o;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (o) {
                case 's': sock = optarg; break;
                case 'p': port = atoi(optarg); break;
                case 'c': ca = optarg; break;
                case 't': token = optarg; break;
                case 'T': tenant = optarg; break;
                case 'v': volumes = atoi(optarg); break;
                case 'r': rounds = atoi(optarg); break;
                case 'n': requests = atoi(optarg); break;
                default: return 2;
                }
        }
        if (!sock || !port || !ca || !token || !tenant || rounds < 1 || requests < 10 || volumes < 1) {
                fprintf(stderr, "usage: listen_bench --socket S --port P --ca CERT --token TOKEN --tenant T "
                                "[--volumes N] [--rounds R] [--requests K]\n");
                return 2;
        }
        char auth[256];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
        hc_conn_init(&unix_conn, &(struct hc_options){.socket_path = sock, .host = "localhost",
                                                       .user_agent = "listen_bench", .io_timeout_sec = 60,
                                                       .max_body = 64u << 20});
        hc_conn_init(&tls_conn, &(struct hc_options){.tcp_host = "127.0.0.1", .tcp_port = port, .ca_file = ca,
                                                      .extra_headers = auth, .host = "localhost",
                                                      .user_agent = "listen_bench", .io_timeout_sec = 60,
                                                      .max_body = 64u << 20});
        populate(tenant, volumes);

        char inspect[256];
        snprintf(inspect, sizeof(inspect), "/v1/volumes/volman-%s-e0-a0-d0", tenant);
        uint32_t *lat = malloc(sizeof(uint32_t) * (size_t)requests);
        uint32_t *u = malloc(sizeof(uint32_t) * (size_t)rounds), *t = malloc(sizeof(uint32_t) * (size_t)rounds);
        median_us(&unix_conn, "GET", inspect, NULL, requests / 10, lat, NULL); /* warm both */
        median_us(&tls_conn, "GET", inspect, NULL, requests / 10, lat, NULL);
        for (int r = 0; r < rounds; r++) {
                u[r] = median_us(&unix_conn, "GET", inspect, NULL, requests, lat, NULL);
                t[r] = median_us(&tls_conn, "GET", inspect, NULL, requests, lat, NULL);
                printf("round %d: inspect unix %u us, tls+token %u us\n", r + 1, u[r], t[r]);
        }
        qsort(u, (size_t)rounds, sizeof(*u), hc_cmp_u32);
        qsort(t, (size_t)rounds, sizeof(*t), hc_cmp_u32);
        uint32_t um = u[rounds / 2], tm = t[rounds / 2];
        printf("inspect, one kept-alive connection, median of %d rounds of %d: unix %u us, TLS with a token %u us: "
               "%.2fx (target <= 2x)\n",
               rounds, requests, um, tm, um ? (double)tm / um : 0);

        char app[256], check[256], page[256], filtered[256];
        snprintf(app, sizeof(app), "/v1/tenants/%s/envs/e1/apps/a1", tenant);
        snprintf(check, sizeof(check), "/v1/tenants/%s/envs/e1/apps/a1/config/check", tenant);
        snprintf(page, sizeof(page), "/v1/volumes?limit=50");
        snprintf(filtered, sizeof(filtered), "/v1/volumes?filter=env=e2&filter=app=a6&limit=50");
        struct {
                const char *what, *method, *path, *body;
        } calls[] = {
                {"whoami (GET /v1/session)", "GET", "/v1/session", NULL},
                {"apps (GET /v1/apps)", "GET", "/v1/apps", NULL},
                {"an app's page (GET .../apps/a1)", "GET", app, NULL},
                {"check a layer (POST .../config/check)", "POST", check, "{\"writeableVolumes\":[\"/d1\",\"/x/y\"]}"},
                {"volumes, first page of 50", "GET", page, NULL},
                {"volumes of one app (env and app filters)", "GET", filtered, NULL},
        };
        uint32_t worst = 0;
        printf("console data calls over TLS with a token, %d volumes, %d calls each:\n", volumes, requests / 10);
        for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
                uint32_t p99;
                uint32_t m = median_us(&tls_conn, calls[i].method, calls[i].path, calls[i].body, requests / 10, lat,
                                       &p99);
                printf("  %-44s median %6u us, p99 %6u us\n", calls[i].what, m, p99);
                if (m > worst)
                        worst = m;
        }
        printf("slowest console call: median %.2f ms (target <= 20 ms)\n", worst / 1000.0);
        hc_conn_close(&unix_conn);
        hc_conn_close(&tls_conn);
        free(lat);
        free(u);
        free(t);
        return 0;
}
