/* The link emulator's values, settings, profiles and control commands: what is accepted, what
 * it becomes, and that a refusal quotes the bad value and changes nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkemu-control.h"
#include "linkemu-netns.h"
#include "linkemu-params.h"

#define MS 1000000ull

static void test_values(void) {
        uint64_t u = 7;
        double d = 7;
        bool b = false;

        check(parse_duration_ns("30ms", LINK_DURATION_MAX, &u) == 0 && u == 30 * MS);
        check(parse_duration_ns("0.2ms", LINK_DURATION_MAX, &u) == 0 && u == 200000);
        check(parse_duration_ns("250us", LINK_DURATION_MAX, &u) == 0 && u == 250000);
        check(parse_duration_ns("1.5s", LINK_DURATION_MAX, &u) == 0 && u == 1500 * MS);
        check(parse_duration_ns("12", LINK_DURATION_MAX, &u) == 0 && u == 12 * MS);
        check(parse_duration_ns("7ns", LINK_DURATION_MAX, &u) == 0 && u == 7);
        u = 7;
        check(parse_duration_ns("61s", LINK_DURATION_MAX, &u) == -ERANGE && u == 7);
        check(parse_duration_ns("ms", LINK_DURATION_MAX, &u) == -EINVAL);
        check(parse_duration_ns("-1ms", LINK_DURATION_MAX, &u) == -EINVAL);
        check(parse_duration_ns("1.ms", LINK_DURATION_MAX, &u) == -EINVAL);
        check(parse_duration_ns("1.0000001s", LINK_DURATION_MAX, &u) == -EINVAL);
        check(parse_duration_ns("99999999999999999999s", LINK_DURATION_MAX, &u) == -ERANGE);
        check(parse_duration_ns("30 ms", LINK_DURATION_MAX, &u) == -EINVAL);
        check(u == 7);

        check(parse_probability("5%", &d) == 0 && fabs(d - 0.05) < 1e-12);
        check(parse_probability("0.5%", &d) == 0 && fabs(d - 0.005) < 1e-12);
        check(parse_probability("0.01", &d) == 0 && fabs(d - 0.01) < 1e-12);
        check(parse_probability("100%", &d) == 0 && d == 1.0);
        d = 7;
        check(parse_probability("101%", &d) == -ERANGE && d == 7);
        check(parse_probability("1.5", &d) == -ERANGE);
        check(parse_probability("5%%", &d) == -EINVAL);
        check(parse_probability("", &d) == -EINVAL);

        check(parse_rate_bps("5mbit", &u) == 0 && u == 5000000);
        check(parse_rate_bps("256kbit", &u) == 0 && u == 256000);
        check(parse_rate_bps("1Gbit", &u) == 0 && u == 1000000000);
        check(parse_rate_bps("1.5mbit", &u) == 0 && u == 1500000);
        check(parse_rate_bps("off", &u) == 0 && u == 0);
        check(parse_rate_bps("0", &u) == 0 && u == 0);
        check(parse_rate_bps("10bit", &u) == -ERANGE);
        check(parse_rate_bps("101gbit", &u) == -ERANGE);
        check(parse_rate_bps("5mbps", &u) == -EINVAL); /* ambiguous (tc reads it as bytes): refused */

        check(parse_size_bytes("64k", LINK_QUEUE_BYTES_MAX, &u) == 0 && u == 65536);
        check(parse_size_bytes("64KiB", LINK_QUEUE_BYTES_MAX, &u) == 0 && u == 65536);
        check(parse_size_bytes("1500", LINK_QUEUE_BYTES_MAX, &u) == 0 && u == 1500);
        check(parse_size_bytes("65m", LINK_QUEUE_BYTES_MAX, &u) == -ERANGE);

        check(parse_boolean("on", &b) == 0 && b);
        check(parse_boolean("No", &b) == 0 && !b);
        check(parse_boolean("maybe", &b) == -EINVAL);
        printf("values: ok\n");
}

static void test_settings(void) {
        LinkParams p, q;
        const char *why = NULL;
        link_params_init(&p);

        check(link_params_set(&p, "delay", "30ms", &why) == 0 && p.delay_ns == 30 * MS);
        check(link_params_set(&p, "queue", "64k", &why) == 0 && p.queue_bytes == 65536 && p.queue_ns == 0);
        check(link_params_set(&p, "queue", "50ms", &why) == 0 && p.queue_ns == 50 * MS);
        check(link_params_set(&p, "udp-blackhole", "on", &why) == 0 && p.udp_blackhole);
        q = p;
        check(link_params_set(&p, "queue", "50", &why) == 0 && p.queue_bytes == 50 && p.queue_ns == 0);
        p = q;
        check(link_params_set(&p, "loss", "abc", &why) == -EINVAL && why && strstr(why, "probability"));
        check(link_params_set(&p, "nope", "1", &why) == -ENOENT && strstr(why, "delay"));
        check(memcmp(&p, &q, sizeof(p)) == 0);

        check(link_profile("wan1", &p) == 0);
        check(p.delay_ns == 30 * MS && p.rate_bps == 5000000 && fabs(p.loss - 0.01) < 1e-12);
        check(link_profile("wan2", &p) == 0 && p.delay_ns == 125 * MS && p.rate_bps == 3000000);
        check(link_profile("wan3", &p) == 0 && p.delay_ns == 50 * MS && p.rate_bps == 256000);
        check(link_profile("wan4", &p) == 0 && p.delay_ns == 100 * MS && fabs(p.loss - 0.05) < 1e-12);
        check(link_profile("lan", &p) == 0 && p.delay_ns == MS / 10 && p.rate_bps == 1000000000);
        check(link_profile("wan9", &p) == -ENOENT);
        printf("settings and profiles: ok\n");
}

static int run(Link *links[], const char *line, char **reply) {
        free(*reply);
        *reply = NULL;
        int r = control_execute(links, 0, line, strlen(line), reply);
        check(*reply && (*reply)[strlen(*reply) - 1] == '\n');
        check((r == 0) == (strncmp(*reply, "error: ", 7) != 0));
        return r;
}

static void test_commands(void) {
        _cleanup_(link_freep) Link *a = link_new(1);
        _cleanup_(link_freep) Link *b = link_new(2);
        Link *links[_LINK_DIR_MAX] = { a, b };
        _cleanup_(freep) char *reply = NULL;

        check(run(links, "set delay=20ms loss=1%", &reply) == 0 && strcmp(reply, "ok\n") == 0);
        check(a->params.delay_ns == 20 * MS && b->params.delay_ns == 20 * MS);
        check(run(links, "set dir=a2b rate=1mbit\r\n", &reply) == 0);
        check(a->params.rate_bps == 1000000 && b->params.rate_bps == 0);

        /* all or nothing: the first setting is not applied when the second is bad */
        check(run(links, "set delay=5ms loss=lots", &reply) == -EINVAL);
        check(strcmp(reply, "error: Invalid value `lots' for loss (a probability such as 1%, 0.5% or 0.01)\n") == 0);
        check(a->params.delay_ns == 20 * MS);
        check(run(links, "set colour=blue", &reply) == -ENOENT && strstr(reply, "Unknown parameter `colour'"));
        check(run(links, "set delay", &reply) == -EINVAL && strstr(reply, "KEY=VALUE, got `delay'"));
        check(run(links, "set", &reply) == -EINVAL);
        check(run(links, "set dir=up delay=1ms", &reply) == -EINVAL && strstr(reply, "direction `up'"));
        check(run(links, "frobnicate", &reply) == -EINVAL && strstr(reply, "Unknown command `frobnicate'"));
        check(run(links, "stats now", &reply) == -EINVAL && strstr(reply, "Unexpected argument `now'"));
        check(run(links, "profile", &reply) == -EINVAL);
        check(run(links, "profile wan7", &reply) == -ENOENT && strstr(reply, "Unknown profile `wan7'"));
        check(run(links, "set delay=\x01\x02", &reply) == -EINVAL && strstr(reply, "`?" "?'"));
        free(reply);
        reply = NULL;
        check(control_execute(links, 0, "cut\0x", 5, &reply) == -EINVAL);

        check(run(links, "profile wan4", &reply) == 0 && a->params.delay_ns == 100 * MS && b->params.delay_ns == 100 * MS);
        check(run(links, "profile lan dir=b2a", &reply) == 0 && a->params.delay_ns == 100 * MS && b->params.delay_ns == MS / 10);

        check(run(links, "cut dir=a2b", &reply) == 0 && a->cut && !b->cut);
        check(run(links, "restore", &reply) == 0 && !a->cut && !b->cut);
        check(run(links, "seed 99", &reply) == 0);
        check(run(links, "seed -1", &reply) == -EINVAL && strstr(reply, "Invalid seed `-1'"));
        check(run(links, "", &reply) == 0 && run(links, "   ", &reply) == 0);

        check(link_submit(a, 0, "\x45", 1, NULL) >= 0);
        check(run(links, "stats", &reply) == 0);
        check(strncmp(reply, "{\"a2b\":{\"in_packets\":1,", 23) == 0 && strstr(reply, "\"b2a\":{"));
        check(strstr(reply, "\"dropped_packets\":{\"cut\":0,\"udp\":0,"));
        check(run(links, "reset-stats", &reply) == 0 && a->stats.in_packets == 0);
        check(run(links, "show", &reply) == 0 && strstr(reply, "\"rate_bps\":1000000,"));
        check(run(links, "help", &reply) == 0 && strstr(reply, "profiles: "));

        char big[CONTROL_LINE_MAX + 10];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        check(run(links, big, &reply) == -E2BIG);
        char many[200] = "set";
        for (int i = 0; i < 40; i++)
                strncat(many, " a", sizeof(many) - strlen(many) - 1);
        check(run(links, many, &reply) == -E2BIG && strstr(reply, "Too many arguments"));
        printf("commands: ok\n");
}

static void test_topology_names(void) {
        Subnet s = { .prefix = 7 };
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

        check(subnet_parse("10.77.0.0/24", &s) == 0 && s.prefix == 24);
        check(strcmp(inet_ntop(AF_INET, &s.a, a, sizeof(a)), "10.77.0.1") == 0);
        check(strcmp(inet_ntop(AF_INET, &s.b, b, sizeof(b)), "10.77.0.2") == 0);
        check(subnet_parse("192.168.4.0/22", &s) == 0 && s.prefix == 22);
        s.prefix = 7;
        check(subnet_parse("10.77.0.1/24", &s) == -EINVAL); /* host bits set */
        check(subnet_parse("10.77.0.0/31", &s) == -EINVAL);
        check(subnet_parse("10.77.0.0/7", &s) == -EINVAL);
        check(subnet_parse("10.77.0.0", &s) == -EINVAL);
        check(subnet_parse("10.77.0.0/", &s) == -EINVAL);
        check(subnet_parse("10.77.0.0/24x", &s) == -EINVAL);
        check(subnet_parse("10.77.0.0.0/24", &s) == -EINVAL);
        check(subnet_parse("fe80::/64", &s) == -EINVAL);
        check(s.prefix == 7);

        check(linkemu_name_valid("t1") && linkemu_name_valid("tandem_link-2"));
        check(!linkemu_name_valid("") && !linkemu_name_valid("a b") && !linkemu_name_valid("../x"));
        check(!linkemu_name_valid("abcdefghijklmnopqrstuvwxyz0123456"));
        printf("subnets and names: ok\n");
}

int main(void) {
        test_topology_names();
        test_values();
        test_settings();
        test_commands();
        return 0;
}
