#include "hostd-manager-fd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-agent.h"
#include "hostd-display.h"
#include "hostd-domain.h"
#include "hostd-manager.h"

int manager_attach_display_fd(Manager *m, const char *name, int fd) {
        _cleanup_(closep) int owned = fd;
        _cleanup_(domain_freep) Domain *d = NULL;
        int r;

        if (manager_find_domain(m, name))
                return -EEXIST;
        d = calloc(1, sizeof(Domain));
        if (!d)
                return -ENOMEM;
        d->manager = m;
        d->name = strdup(name);
        if (!d->name)
                return -ENOMEM;
        r = agent_new(d, &d->agent);
        if (r < 0)
                return r;
        /* The Domain's address is the display's userdata: allocate first, link last. */
        r = display_new(m, d->name, TAKE_FD(owned), domain_display_closed, d, &d->display);
        if (r < 0)
                return r;
        d->mode = DOMAIN_DBUS;
        d->attaches = 1;
        d->next = m->domains;
        m->domains = d;
        agent_start(TAKE_PTR(d)->agent); /* m->agent_connect's channel, if any */
        return 0;
}
