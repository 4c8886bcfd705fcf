/* Provisioning and power against libvirt's test driver: many simulated hosts (one private
 * test:///FILE driver each), hundreds of desktops placed on the least-loaded host, overlays
 * made through the storage API, power operations, removal; and the XML rewriting alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker-libvirt.h"
#include "check.h"
#include "macro.h"

#define N_HOSTS 20
#define N_DESKTOPS 400

static const char TEMPLATE[] =
        "<domain type='test'>\n"
        "  <name>tmpl</name>\n"
        "  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n"
        "  <memory>1048576</memory>\n"
        "  <os><type>hvm</type></os>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='/fake-images/tmpl.img'/><backingStore/><target dev='vda'/></disk>\n"
        "    <disk type='file' device='cdrom'><source file='/iso/installer.iso'/><target dev='hdc'/></disk>\n"
        "    <interface type='network'><source network='default'/></interface>\n"
        "    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>\n"
        "    <serial type='file'><source path='/var/log/tandem/tmpl.log'/><target port='0'/></serial>\n"
        "  </devices>\n"
        "</domain>\n";

static const char NODE[] =
        "<node><pool type='dir'><name>images</name><target><path>/fake-images</path></target></pool></node>\n";

static void test_xml(void) {
        char **paths;
        size_t n;
        check(template_disk_paths(TEMPLATE, strlen(TEMPLATE), &paths, &n) == 0);
        check(n == 1 && strcmp(paths[0], "/fake-images/tmpl.img") == 0); /* the cdrom is not a disk */
        disk_paths_free(paths, n);

        unsigned char uuid[16];
        for (int i = 0; i < 16; i++)
                uuid[i] = (unsigned char) (0x10 + i);
        uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x01, 0x02, 0xff };
        char *overlay = (char *) "/fake-images/d1-disk0.qcow2";
        DesktopXmlParams p = { .name = "d1", .uuid = uuid, .mac = mac, .disk_paths = &overlay, .n_disks = 1 };
        char *xml;
        check(desktop_xml_from_template(TEMPLATE, strlen(TEMPLATE), &p, &xml) == 0);
        check(strstr(xml, "<name>d1</name>"));
        check(!strstr(xml, "tmpl</name>"));
        check(strstr(xml, "<uuid>10111213-1415-1617-1819-1a1b1c1d1e1f</uuid>"));
        check(strstr(xml, "<driver name=\"qemu\" type=\"qcow2\"/><source file=\"/fake-images/d1-disk0.qcow2\"/>"));
        check(!strstr(xml, "backingStore"));
        check(strstr(xml, "/iso/installer.iso")); /* the cdrom is shared, untouched */
        check(strstr(xml, "52:54:00:01:02:ff"));
        check(strstr(xml, "52:54:00:01:03:00")); /* the second interface counts up, carrying */
        check(!strstr(xml, "aa:bb:cc"));
        check(strstr(xml, "/var/log/tandem/d1.log"));
        free(xml);

        /* Wrong disk count, not a domain, not XML, a disk that cannot get an overlay. */
        p.n_disks = 0;
        check(desktop_xml_from_template(TEMPLATE, strlen(TEMPLATE), &p, &xml) == -EINVAL);
        p.n_disks = 1;
        check(desktop_xml_from_template("<network/>", 10, &p, &xml) == -EINVAL);
        check(desktop_xml_from_template("<domain>", 8, &p, &xml) == -EINVAL);
        check(desktop_xml_from_template("", 0, &p, &xml) == -EINVAL);
        static const char vol[] = "<domain><devices><disk type='volume' device='disk'>"
                                  "<source pool='p' volume='v'/></disk></devices></domain>";
        check(template_disk_paths(vol, strlen(vol), &paths, &n) == -EOPNOTSUPP);
        /* An external entity is never fetched nor expanded. */
        static const char xxe[] = "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                                  "<domain><name>&x;</name><devices/></domain>";
        p.n_disks = 0;
        check(desktop_xml_from_template(xxe, strlen(xxe), &p, &xml) == 0);
        check(!strstr(xml, "root:"));
        free(xml);
        /* No disks (the demo desktop boots a kernel and an initrd): nothing to overlay. */
        static const char nodisk[] = "<domain type='qemu'><name>demo</name><devices><serial type='file'>"
                                     "<source path='serial.log'/></serial></devices></domain>";
        check(template_disk_paths(nodisk, strlen(nodisk), &paths, &n) == 0 && n == 0);
        disk_paths_free(paths, n);
        check(desktop_xml_from_template(nodisk, strlen(nodisk), &p, &xml) == 0);
        check(strstr(xml, "<source path=\"d1.log\"/>"));
        free(xml);
}

static void test_pick_host(void) {
        HostLoad h[] = {
                { .healthy = true, .desktops = 5, .capacity = 10 },  /* 50% */
                { .healthy = false, .desktops = 0, .capacity = 10 }, /* down */
                { .healthy = true, .desktops = 10, .capacity = 40 }, /* 25% */
                { .healthy = true, .desktops = 1, .capacity = 4 },   /* 25%, fewer desktops */
                { .healthy = true, .desktops = 0, .capacity = 0 },   /* no capacity */
        };
        check(broker_pick_host(h, ELEMENTSOF(h)) == 3);
        h[3].desktops = 4;
        check(broker_pick_host(h, ELEMENTSOF(h)) == 2);
        h[2].desktops = 40;
        h[0].desktops = 10;
        check(broker_pick_host(h, ELEMENTSOF(h)) == -ENOSPC);
        check(broker_pick_host(h, 0) == -ENOSPC);
}

static int state_of(virConnectPtr c, const char *name) {
        virDomainPtr d = virDomainLookupByName(c, name);
        check(d);
        int state, reason;
        check(virDomainGetState(d, &state, &reason, 0) == 0);
        virDomainFree(d);
        return state;
}

static void test_scale(void) {
        char dir[] = "/tmp/test-broker-libvirt.XXXXXX";
        check(mkdtemp(dir));
        virConnectPtr hosts[N_HOSTS];
        HostLoad load[N_HOSTS];
        for (int i = 0; i < N_HOSTS; i++) {
                char path[256], uri[300];
                snprintf(path, sizeof path, "%s/host%d.xml", dir, i);
                FILE *f = fopen(path, "we");
                check(f && fputs(NODE, f) >= 0 && fclose(f) == 0);
                snprintf(uri, sizeof uri, "test://%s", path);
                hosts[i] = virConnectOpen(uri);
                check(hosts[i]);
                /* Each host has the template and its disk. */
                virDomainPtr t = virDomainDefineXML(hosts[i], TEMPLATE);
                check(t);
                virDomainFree(t);
                virStoragePoolPtr pool = virStoragePoolLookupByName(hosts[i], "images");
                check(pool);
                virStorageVolPtr v = virStorageVolCreateXML(
                        pool, "<volume><name>tmpl.img</name><capacity>1073741824</capacity></volume>", 0);
                check(v);
                virStorageVolFree(v);
                virStoragePoolFree(pool);
                /* Simulated hosts of different sizes, a few already busy, one down. */
                load[i] = (HostLoad) { .healthy = i != 7, .capacity = 20 + (unsigned) (i % 4) * 10,
                                       .desktops = i < 3 ? 10 : 0 };
        }

        static char names[N_DESKTOPS][32], uuids[N_DESKTOPS][VIR_UUID_STRING_BUFLEN], macs[N_DESKTOPS][18];
        int where[N_DESKTOPS];
        for (int i = 0; i < N_DESKTOPS; i++) {
                int h = broker_pick_host(load, N_HOSTS);
                check(h >= 0 && h != 7);
                snprintf(names[i], sizeof names[i], "desktop-%04d", i);
                ProvisionResult r = { 0 };
                int e = broker_desktop_provision(hosts[h], "tmpl", names[i], NULL, &r);
                if (e < 0)
                        fprintf(stderr, "provision %s: %s (%s)\n", names[i], strerror(-e), broker_libvirt_error());
                check(e == 0);
                check(r.n_overlays == 1);
                char want[128];
                snprintf(want, sizeof want, "/fake-images/%.31s-disk0.qcow2", names[i]);
                check(strcmp(r.overlays[0], want) == 0);
                /* The overlay is a qcow2 volume backed by the template's disk. */
                virStorageVolPtr v = virStorageVolLookupByPath(hosts[h], r.overlays[0]);
                check(v);
                char *vx = virStorageVolGetXMLDesc(v, 0);
                check(vx && strstr(vx, "<path>/fake-images/tmpl.img</path>") && strstr(vx, "<format type='qcow2'/>"));
                free(vx);
                virStorageVolFree(v);
                memcpy(uuids[i], r.uuid, sizeof r.uuid);
                memcpy(macs[i], r.mac, sizeof r.mac);
                provision_result_done(&r);
                where[i] = h;
                load[h].desktops++;
        }
        /* Unique identities across the fleet. */
        for (int i = 0; i < N_DESKTOPS; i++)
                for (int j = i + 1; j < N_DESKTOPS; j++) {
                        check(strcmp(uuids[i], uuids[j]) != 0);
                        check(strcmp(macs[i], macs[j]) != 0);
                }
        /* Balanced by load: every healthy host ends within one desktop's share of the others. */
        unsigned placed = 0;
        for (int i = 0; i < N_HOSTS; i++) {
                placed += load[i].desktops;
                printf("host%-2d %s %3u/%3u\n", i, load[i].healthy ? "up  " : "down", load[i].desktops, load[i].capacity);
        }
        check(load[7].desktops == 0);
        /* Least-loaded: taking any host's last desktop away would not make it less loaded than
         * any other host (ratios compared exactly). */
        for (int a = 0; a < N_HOSTS; a++)
                for (int b = 0; b < N_HOSTS; b++)
                        if (load[a].healthy && load[b].healthy && a != b)
                                check((uint64_t) (load[a].desktops - 1) * load[b].capacity <=
                                      (uint64_t) load[b].desktops * load[a].capacity);
        check(placed == N_DESKTOPS + 30);
        /* Taking the name again, or a template that is not there. */
        ProvisionResult r = { 0 };
        check(broker_desktop_provision(hosts[where[0]], "tmpl", names[0], NULL, &r) == -EEXIST);
        check(broker_desktop_provision(hosts[0], "no-such-template", "x", NULL, &r) == -ENOENT);
        check(broker_desktop_provision(hosts[0], "tmpl", "bad'name", NULL, &r) == -EINVAL);
        check(broker_desktop_provision(hosts[0], "tmpl", "", NULL, &r) == -EINVAL);

        /* Power: start, reset (running, paused, shut off), shutdown, destroy. */
        for (int i = 0; i < N_DESKTOPS; i++) {
                virConnectPtr c = hosts[where[i]];
                check(broker_domain_power(c, names[i], BROKER_POWER_START) == 0);
                check(state_of(c, names[i]) == VIR_DOMAIN_RUNNING);
                check(broker_domain_power(c, names[i], BROKER_POWER_START) == 0); /* already */
                check(broker_domain_power(c, names[i], BROKER_POWER_RESET) == 0);
                check(state_of(c, names[i]) == VIR_DOMAIN_RUNNING);
        }
        virConnectPtr c = hosts[where[1]];
        virDomainPtr d = virDomainLookupByName(c, names[1]);
        check(d && virDomainSuspend(d) == 0);
        check(state_of(c, names[1]) == VIR_DOMAIN_PAUSED);
        check(broker_domain_power(c, names[1], BROKER_POWER_RESET) == 0);
        check(state_of(c, names[1]) == VIR_DOMAIN_RUNNING);
        check(broker_domain_power(c, names[1], BROKER_POWER_DESTROY) == 0);
        check(state_of(c, names[1]) == VIR_DOMAIN_SHUTOFF);
        check(broker_domain_power(c, names[1], BROKER_POWER_DESTROY) == 0); /* already */
        check(broker_domain_power(c, names[1], BROKER_POWER_RESET) == 0);    /* powers it on */
        check(state_of(c, names[1]) == VIR_DOMAIN_RUNNING);
        check(broker_domain_power(c, names[1], BROKER_POWER_CYCLE) == 0);
        check(state_of(c, names[1]) == VIR_DOMAIN_RUNNING);
        check(broker_domain_power(c, names[1], BROKER_POWER_SHUTDOWN) == 0);
        check(state_of(c, names[1]) == VIR_DOMAIN_SHUTOFF);
        virDomainFree(d);
        check(broker_domain_power(c, "nope", BROKER_POWER_RESET) == -ENOENT);

        /* Removal: the domain and its overlay go, the template and its disk stay. */
        for (int i = 0; i < N_DESKTOPS; i++) {
                virConnectPtr h = hosts[where[i]];
                check(broker_desktop_remove(h, names[i]) == 0);
                virDomainPtr gone = virDomainLookupByName(h, names[i]);
                check(!gone);
                char path[128];
                snprintf(path, sizeof path, "/fake-images/%.31s-disk0.qcow2", names[i]);
                virStorageVolPtr v = virStorageVolLookupByPath(h, path);
                check(!v);
        }
        check(broker_desktop_remove(hosts[0], names[0]) == -ENOENT);
        for (int i = 0; i < N_HOSTS; i++) {
                virStorageVolPtr v = virStorageVolLookupByPath(hosts[i], "/fake-images/tmpl.img");
                check(v);
                virStorageVolFree(v);
                virDomainPtr t = virDomainLookupByName(hosts[i], "tmpl");
                check(t);
                virDomainFree(t);
                check(virConnectNumOfDefinedDomains(hosts[i]) == 1 && virConnectNumOfDomains(hosts[i]) == 0);
                virConnectClose(hosts[i]);
                char path[256];
                snprintf(path, sizeof path, "%s/host%d.xml", dir, i);
                unlink(path);
        }
        rmdir(dir);
}

int main(void) {
        broker_libvirt_quiet();
        test_xml();
        test_pick_host();
        test_scale();
        printf("ok\n");
        return 0;
}
