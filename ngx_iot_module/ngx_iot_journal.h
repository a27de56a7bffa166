
/*
 * Copyright (C) nginx-iot authors
 *
 * The crash journal: the write under way, kept in the zone.  It names the
 * entities the write changes and records every zone allocation the write
 * makes, however many.  If the writer dies before the write is done, the
 * next process to take the lock frees what no entity holds and reloads
 * those entities from the store.
 */


#ifndef _NGX_IOT_JOURNAL_H_INCLUDED_
#define _NGX_IOT_JOURNAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"


ngx_int_t ngx_iot_journal_init(ngx_iot_zone_ctx_t *ctx);

/* where the journal is: one write of a batch can be undone back to it */
typedef struct {
    ngx_uint_t                 nkeys;
    ngx_uint_t                 nalloc;
} ngx_iot_journal_mark_t;


/* a write (or a batch) starts: what it allocates from now on is recorded */
void ngx_iot_journal_begin(ngx_iot_zone_ctx_t *ctx);

/* the write changes this entity (at most NGX_IOT_JOURNAL_KEYS of them) */
void ngx_iot_journal_note(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    ngx_iot_store_key_t *key);

/* zone memory for the write, zeroed and recorded; NULL: the zone is full */
void *ngx_iot_journal_alloc(ngx_iot_zone_ctx_t *ctx, size_t size);
/* the same from a fixed-size allocator of the zone (ngx_iot_fixed.h) */
void *ngx_iot_journal_alloc_fixed(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_fixed_t *f);
/* always: NGX_IOT_TEXT_TAGS, _ALWAYS or _PLAIN (ngx_iot_entities.h) */
ngx_int_t ngx_iot_journal_text(ngx_iot_zone_ctx_t *ctx, ngx_str_t *src,
    ngx_uint_t always, ngx_iot_text_t *dst);

/* the write failed before the zone changed: its allocations are freed */
void ngx_iot_journal_abort(ngx_iot_zone_ctx_t *ctx);

/* one write of a batch failed before the zone changed */
void ngx_iot_journal_mark(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_journal_mark_t *mark);
void ngx_iot_journal_abort_to(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_journal_mark_t *mark);

/*
 * A batch changed the zone but its transaction did not commit: the zone
 * takes the entities it named from the store again.
 */
void ngx_iot_journal_undo(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_log_t *log);

/* the write is done: its allocations belong to its entities */
void ngx_iot_journal_end(ngx_iot_zone_ctx_t *ctx);

/*
 * A process other than this one died during its write: the repair reads
 * the store through store (NULL: this worker's connection).
 */
ngx_uint_t ngx_iot_journal_orphaned(ngx_iot_zone_ctx_t *ctx,
    ngx_uint_t alive);
void ngx_iot_journal_repair(ngx_iot_zone_ctx_t *ctx, ngx_cycle_t *cycle,
    ngx_iot_store_t *store, ngx_log_t *log);


#endif /* _NGX_IOT_JOURNAL_H_INCLUDED_ */
