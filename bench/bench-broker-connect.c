/* Connect requests against a real tandem-broker: a fresh store with one host, a persistent pool of
 * DESKTOPS desktops and as many users; CLIENTS threads, each with its own keep-alive HTTPS
 * connection (libcurl), POST /v1/pools/bench/connect for the users in turn (the first round assigns,
 * later rounds find the user's desktop; every answer carries a freshly signed ticket and writes a
 * session check and an audit event). Prints requests/s and p50/p90/p99/max latency as the clients
 * see it, and the broker's CPU time. Figures are printed, never asserted.
 *
 *   bench-broker-connect [--seconds S] [--clients N] [--desktops N] [--broker PATH] [--plain]
 *
 * The broker is build/broker/tandem-broker beside this program unless --broker says otherwise. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "broker-store.h"

static double seconds = 5;
static int clients = 4, desktops = 2000;
static bool plain;
static char base_url[128], admin_header[256], cafile[PATH_MAX];
static volatile int stop_flag;

typedef struct Client {
        pthread_t thread;
        int index;
        double *lat; /* milliseconds */
        size_t n, cap;
        unsigned long errors;
} Client;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
        fprintf(stderr, "bench-broker-connect: %s\n", what);
        exit(1);
}

static size_t discard(char *p, size_t size, size_t n, void *userdata) {
        return size * n;
}

static void *client_main(void *arg) {
        Client *c = arg;
        CURL *h = curl_easy_init();
        if (!h)
                die("curl_easy_init");
        struct curl_slist *hdrs = curl_slist_append(NULL, admin_header);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        char url[256], body[64];
        snprintf(url, sizeof(url), "%s/v1/pools/bench/connect", base_url);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L); /* the certificate names the machine; we dial 127.0.0.1 */
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        int user = c->index;
        while (!stop_flag) {
                snprintf(body, sizeof(body), "{\"user\":\"u%d\"}", user);
                user = (user + clients) % desktops;
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                double t0 = now();
                CURLcode rc = curl_easy_perform(h);
                long status = 0;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                double ms = (now() - t0) * 1000;
                if (rc != CURLE_OK || status != 200) {
                        c->errors++;
                        continue;
                }
                if (c->n == c->cap) {
                        c->cap = c->cap ? c->cap * 2 : 65536;
                        c->lat = realloc(c->lat, c->cap * sizeof(double));
                        if (!c->lat)
                                die("out of memory");
                }
                c->lat[c->n++] = ms;
        }
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        return NULL;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static int free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *) &sa, &sl) < 0)
                die("no free port");
        close(fd);
        return ntohs(sa.sin_port);
}

static void populate(const char *db_path) {
        Store *s = NULL;
        char *error = NULL;
        if (store_open(db_path, 0, &s, &error) < 0)
                die(error ? error : "cannot open the store");
        if (store_exec(s, "BEGIN") < 0 ||
            store_exec(s, "INSERT INTO hosts(name, libvirt_uri, hostd_address, fingerprint) VALUES ('h1', "
                          "'test:///default', 'h1.example.org:7443', "
                          "'abababababababababababababababababababababababababababababababab')") < 0 ||
            store_exec(s, "INSERT INTO pools(name, kind) VALUES ('bench', 'persistent')") < 0)
                die("populate");
        sqlite3_stmt *u, *d;
        if (sqlite3_prepare_v2(store_db(s), "INSERT INTO users(name, created) VALUES (?1, 0)", -1, &u, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(store_db(s),
                               "INSERT INTO desktops(pool_id, host_id, domain_name, power_state, ready) VALUES (1, 1, ?1, "
                               "'running', 1)",
                               -1, &d, NULL) != SQLITE_OK)
                die("prepare");
        for (int i = 0; i < desktops; i++) {
                char name[32];
                snprintf(name, sizeof(name), "u%d", i);
                sqlite3_bind_text(u, 1, name, -1, SQLITE_TRANSIENT);
                snprintf(name, sizeof(name), "bench-%05d", i);
                sqlite3_bind_text(d, 1, name, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(u) != SQLITE_DONE || sqlite3_step(d) != SQLITE_DONE)
                        die("insert");
                sqlite3_reset(u);
                sqlite3_reset(d);
        }
        sqlite3_finalize(u);
        sqlite3_finalize(d);
        if (store_exec(s, "COMMIT") < 0)
                die("commit");
        store_free(s);
}

static bool healthy(void) {
        CURL *h = curl_easy_init();
        char url[256];
        snprintf(url, sizeof(url), "%s/health", base_url);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        long status = 0;
        bool ok = curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                  status == 200;
        curl_easy_cleanup(h);
        return ok;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' }, { "clients", required_argument, NULL, 'c' },
                { "desktops", required_argument, NULL, 'd' }, { "broker", required_argument, NULL, 'b' },
                { "plain", no_argument, NULL, 'p' },         {},
        };
        char broker[PATH_MAX + 32] = "", self[PATH_MAX];
        int opt;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 's':
                        seconds = strtod(optarg, NULL);
                        break;
                case 'c':
                        clients = (int) strtol(optarg, NULL, 10);
                        break;
                case 'd':
                        desktops = (int) strtol(optarg, NULL, 10);
                        break;
                case 'b':
                        snprintf(broker, sizeof(broker), "%s", optarg);
                        break;
                case 'p':
                        plain = true;
                        break;
                default:
                        return 2;
                }
        if (seconds <= 0 || clients < 1 || clients > 256 || desktops < clients)
                die("bad arguments");
        if (!broker[0]) {
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n < 0)
                        die("cannot find myself");
                self[n] = 0;
                char *slash = strrchr(self, '/');
                *slash = 0;
                snprintf(broker, sizeof(broker), "%s/../broker/tandem-broker", self);
        }

        char dir[] = "/tmp/bench-broker-XXXXXX", path[PATH_MAX + 64], db[PATH_MAX + 64];
        if (!mkdtemp(dir))
                die("mkdtemp");
        snprintf(db, sizeof(db), "%s/broker.db", dir);
        populate(db);
        int port = free_port();
        snprintf(path, sizeof(path), "%s/broker.conf", dir);
        FILE *f = fopen(path, "w");
        if (!f)
                die("config");
        fprintf(f, "[Broker]\nDatabase=%s\nStateDirectory=%s/state\nListen=127.0.0.1:%d\nPlainHTTP=%s\nLogLevel=warning\n", db,
                dir, port, plain ? "yes" : "no");
        fclose(f);
        snprintf(base_url, sizeof(base_url), "%s://127.0.0.1:%d", plain ? "http" : "https", port);
        snprintf(cafile, sizeof(cafile), "%s/state/broker-cert.pem", dir);

        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                execl(broker, broker, "--config", path, (char *) NULL);
                _exit(127);
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        for (int i = 0; !healthy(); i++) {
                if (i > 400 || waitpid(pid, NULL, WNOHANG) == pid)
                        die("the broker did not start");
                usleep(25000);
        }
        char token[160] = "";
        snprintf(path, sizeof(path), "%s/state/admin.token", dir);
        f = fopen(path, "r");
        if (!f || !fgets(token, sizeof(token), f))
                die("no admin token");
        fclose(f);
        token[strcspn(token, "\n")] = 0;
        snprintf(admin_header, sizeof(admin_header), "Authorization: Bearer %s", token);

        Client *cs = calloc((size_t) clients, sizeof(Client));
        double t0 = now();
        for (int i = 0; i < clients; i++) {
                cs[i].index = i;
                pthread_create(&cs[i].thread, NULL, client_main, &cs[i]);
        }
        usleep((useconds_t) (seconds * 1e6));
        stop_flag = 1;
        size_t total = 0;
        unsigned long errors = 0;
        for (int i = 0; i < clients; i++) {
                pthread_join(cs[i].thread, NULL);
                total += cs[i].n;
                errors += cs[i].errors;
        }
        double elapsed = now() - t0;
        double *all = malloc((total ? total : 1) * sizeof(double));
        size_t k = 0;
        for (int i = 0; i < clients; i++) {
                memcpy(all + k, cs[i].lat, cs[i].n * sizeof(double));
                k += cs[i].n;
                free(cs[i].lat);
        }
        qsort(all, total, sizeof(double), cmp);
        kill(pid, SIGTERM);
        struct rusage ru;
        int status;
        wait4(pid, &status, 0, &ru);
        double cpu = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
                     (double) ru.ru_stime.tv_usec / 1e6;
        if (total == 0)
                die("no request succeeded");
        printf("connect over %s, %d keep-alive clients, %d users/desktops (persistent pool), %.1f s\n",
               plain ? "plain HTTP" : "HTTPS (TLS 1.3)", clients, desktops, elapsed);
        printf("  %zu answered (%lu failed): %.0f requests/s\n", total, errors, (double) total / elapsed);
        printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", all[total / 2], all[total * 90 / 100],
               all[total * 99 / 100], all[total - 1]);
        printf("  broker CPU: %.2f s (%.0f%% of one core), %.0f us per request\n", cpu, 100 * cpu / elapsed,
               1e6 * cpu / (double) total);
        free(all);
        free(cs);
        curl_global_cleanup();
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                return 1;
        return 0;
}
