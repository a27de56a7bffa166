
/*
 * Copyright (C) nginx-iot authors
 *
 * The one write sequence of the registry (ngx_iot_write.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_write.h"


ngx_iot_rc_e
ngx_iot_write(ngx_cycle_t *cycle, ngx_iot_write_t *w)
{
    ngx_int_t            src;
    ngx_iot_rc_e         rc;
    ngx_iot_zone_ctx_t  *ctx;

    w->store = ngx_iot_store_get(cycle, w->log);
    if (w->store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ctx = ngx_iot_lock_write(cycle, w->log, &rc);
    if (ctx == NULL) {
        return rc;
    }

    w->ctx = ctx;
    w->unchanged = 0;

    ngx_iot_journal_begin(ctx);

    rc = w->check(w);

    if (rc != NGX_IOT_OK || w->unchanged) {
        ngx_iot_journal_abort(ctx);
        goto done;
    }

    /* the store first: readers see the zone as it was until it is done */

    ngx_iot_zone_unlock(ctx);
    src = w->write(w);
    ngx_iot_zone_lock(ctx);

    if (src != NGX_OK) {
        ngx_iot_journal_abort(ctx);
        rc = NGX_IOT_STORE_ERROR;
        goto done;
    }

    rc = w->apply(w);

    ngx_iot_journal_end(ctx);

done:

    /* readers go on while the writer keeps the store's log bounded */

    ngx_iot_zone_unlock(ctx);
    (void) ngx_iot_store_wal_restart(w->store, w->log);
    ngx_iot_writer_unlock(ctx);

    return rc;
}
