
/*
 * Copyright (C) nginx-iot authors
 *
 * What every libFuzzer target needs of nginx: its time, a log that goes
 * to /dev/null (at the debug level, so that every log line's format is run
 * too), a cycle, a pool per input and, for the code that answers a
 * request, a request that has only what a parser or validator reads: its
 * pool, its connection's log and the module's context.  docs/fuzzing.md.
 *
 * Each target is one translation unit that includes this file and,
 * for static functions, the module's .c file it tests; build.sh then
 * links it without that file's object.
 */


#ifndef _NGX_FUZZ_H_INCLUDED_
#define _NGX_FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <fcntl.h>
#include <stdint.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);


static ngx_log_t     ngx_fuzz_log;
static ngx_open_file_t  ngx_fuzz_log_file;
static ngx_cycle_t   ngx_fuzz_cycle;


static void
ngx_fuzz_init(void)
{
    ngx_uint_t  n;

    ngx_fuzz_log_file.fd = open("/dev/null", O_WRONLY);
    ngx_fuzz_log.file = &ngx_fuzz_log_file;
    ngx_fuzz_log.log_level = NGX_LOG_DEBUG_ALL;

    ngx_pagesize = getpagesize();
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;

    for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) {
        /* void */
    }

    ngx_time_init();
    ngx_slab_sizes_init();

    (void) ngx_preinit_modules();

    ngx_fuzz_cycle.log = &ngx_fuzz_log;
    ngx_fuzz_cycle.pool = ngx_create_pool(NGX_CYCLE_POOL_SIZE, &ngx_fuzz_log);
    ngx_fuzz_cycle.conf_ctx = ngx_pcalloc(ngx_fuzz_cycle.pool,
                                          ngx_max_module * sizeof(void *));
    ngx_cycle = &ngx_fuzz_cycle;
}


static ngx_pool_t *
ngx_fuzz_pool(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(1024, &ngx_fuzz_log);
    if (pool == NULL) {
        abort();
    }

    return pool;
}


/* a copy of the input in its own allocation, so ASan sees its end */

static u_char *
ngx_fuzz_copy(ngx_pool_t *pool, const uint8_t *data, size_t size)
{
    u_char  *p;

    p = ngx_pnalloc(pool, size ? size : 1);
    if (p == NULL) {
        abort();
    }

    if (size) {
        ngx_memcpy(p, data, size);
    }

    return p;
}


/*
 * Splits the input at the first "\n\n" sequence counted from *pos: one
 * field of a multi-field input (header, method, path, ...); the last field
 * is what is left.
 */

static void
ngx_fuzz_field(const uint8_t *data, size_t size, size_t *pos, ngx_str_t *f)
{
    size_t  i;

    f->data = (u_char *) data + *pos;

    for (i = *pos; i + 1 < size; i++) {
        if (data[i] == '\n' && data[i + 1] == '\n') {
            f->len = i - *pos;
            *pos = i + 2;
            return;
        }
    }

    f->len = size - *pos;
    *pos = size;
}

#endif /* _NGX_FUZZ_H_INCLUDED_ */
