
/*
 * Copyright (C) nginx-iot authors
 *
 * The core module: main-level directives for the store, the shared memory
 * zone and the admin token; the per-worker store connection.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_outputs.h"
#include "ngx_iot_write.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_history.h"
#include "ngx_iot_token.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_coaplink.h"
#include "ngx_iot_realtime.h"


#define NGX_IOT_CHECKPOINT_INTERVAL  1000


static void *ngx_iot_create_conf(ngx_cycle_t *cycle);
static char *ngx_iot_init_conf(ngx_cycle_t *cycle, void *conf);
static char *ngx_iot_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_iot_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_iot_init_process(ngx_cycle_t *cycle);
static void ngx_iot_exit_process(ngx_cycle_t *cycle);
static void ngx_iot_exit_master(ngx_cycle_t *cycle);
static void ngx_iot_checkpoint_handler(ngx_event_t *ev);
#if (NGX_THREADS)
static void ngx_iot_checkpoint_thread(void *data, ngx_log_t *log);
static void ngx_iot_checkpoint_done(ngx_event_t *ev);
#endif


static ngx_conf_enum_t  ngx_iot_sync[] = {
    { ngx_string("normal"), NGX_IOT_SYNC_NORMAL },
    { ngx_string("full"), NGX_IOT_SYNC_FULL },
    { ngx_null_string, 0 }
};


static char *ngx_iot_field_mask_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_iot_commands[] = {

    { ngx_string("iot_zone"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_iot_zone,
      0,
      0,
      NULL },

    { ngx_string("iot_store"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_iot_conf_t, store_path),
      NULL },

    { ngx_string("iot_store_sync"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      0,
      offsetof(ngx_iot_conf_t, sync),
      &ngx_iot_sync },

    { ngx_string("iot_history_max_age"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      offsetof(ngx_iot_conf_t, history_max_age),
      NULL },

    { ngx_string("iot_history_max_count"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iot_conf_t, history_max_count),
      NULL },

    { ngx_string("iot_downlink_keep"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iot_conf_t, downlink_keep),
      NULL },

    { ngx_string("iot_downlink_ttl"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_iot_conf_t, downlink_ttl),
      NULL },

    { ngx_string("iot_field_mask_default"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_1MORE,
      ngx_iot_field_mask_slot,
      0,
      offsetof(ngx_iot_conf_t, field_mask_default),
      NULL },

    { ngx_string("iot_field_mask_forced"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_1MORE,
      ngx_iot_field_mask_slot,
      0,
      offsetof(ngx_iot_conf_t, field_mask_forced),
      NULL },

    { ngx_string("iot_bus_size"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_iot_conf_t, bus_size),
      NULL },

    { ngx_string("iot_event_loop_realtime"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_iot_conf_t, event_loop_realtime),
      NULL },

    { ngx_string("iot_outputs_private_destinations"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_iot_conf_t, outputs_private),
      NULL },

    { ngx_string("iot_outputs_queue"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      0,
      offsetof(ngx_iot_conf_t, outputs_queue),
      NULL },

    { ngx_string("iot_outputs_ifttt_url"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_iot_conf_t, outputs_ifttt),
      NULL },

    { ngx_string("iot_outputs_ca_file"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_iot_conf_t, outputs_ca_file),
      NULL },

    { ngx_string("iot_admin_token_file"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      offsetof(ngx_iot_conf_t, token_path),
      NULL },

      ngx_null_command
};


static ngx_core_module_t  ngx_iot_module_ctx = {
    ngx_string("iot"),
    ngx_iot_create_conf,
    ngx_iot_init_conf
};


ngx_module_t  ngx_iot_module = {
    NGX_MODULE_V1,
    &ngx_iot_module_ctx,                   /* module context */
    ngx_iot_commands,                      /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_iot_init_module,                   /* init module */
    ngx_iot_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_iot_exit_process,                  /* exit process */
    ngx_iot_exit_master,                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_iot_create_conf(ngx_cycle_t *cycle)
{
    ngx_iot_conf_t  *conf;

    conf = ngx_pcalloc(cycle->pool, sizeof(ngx_iot_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->store_path = { 0, NULL };
     *     conf->token_path = { 0, NULL };
     *     conf->shm_zone = NULL;
     *     conf->store = NULL;
     */

    conf->sync = NGX_CONF_UNSET_UINT;
    conf->bus_size = NGX_CONF_UNSET_SIZE;
    conf->history_max_age = NGX_CONF_UNSET;
    conf->history_max_count = NGX_CONF_UNSET_UINT;
    conf->downlink_keep = NGX_CONF_UNSET_UINT;
    conf->downlink_ttl = NGX_CONF_UNSET_MSEC;
    conf->field_mask_default = NGX_CONF_UNSET_UINT;
    conf->field_mask_forced = NGX_CONF_UNSET_UINT;
    conf->event_loop_realtime = NGX_CONF_UNSET;
    conf->outputs_private = NGX_CONF_UNSET;
    conf->outputs_queue = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_iot_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_iot_conf_t *icf = conf;

    u_char           *p;
    ngx_err_t         err;
    ngx_str_t         dir;
    ngx_file_info_t   fi;

    ngx_conf_init_uint_value(icf->sync, NGX_IOT_SYNC_NORMAL);

    /* 0: an eighth of the zone */
    ngx_conf_init_size_value(icf->bus_size, 0);

    /* 0 in either: no such limit */
    ngx_conf_init_value(icf->history_max_age, 30 * 86400);
    ngx_conf_init_uint_value(icf->history_max_count, 100000);
    ngx_conf_init_uint_value(icf->downlink_keep, 10000);
    ngx_conf_init_msec_value(icf->downlink_ttl, 86400000);
    ngx_conf_init_uint_value(icf->field_mask_default, 0);
    ngx_conf_init_uint_value(icf->field_mask_forced, 0);
    ngx_conf_init_value(icf->event_loop_realtime, 0);
    ngx_conf_init_value(icf->outputs_private, 0);
    ngx_conf_init_uint_value(icf->outputs_queue, 10000);

    if (icf->outputs_ifttt.len == 0) {
        ngx_str_set(&icf->outputs_ifttt, "https://maker.ifttt.com");
    }

    if (icf->outputs_ca_file.len) {
        if (ngx_conf_full_name(cycle, &icf->outputs_ca_file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        err = 0;

        if (ngx_file_info(icf->outputs_ca_file.data, &fi) == NGX_FILE_ERROR) {
            err = ngx_errno;

        } else if (!ngx_is_file(&fi)) {
            err = NGX_EISDIR;
        }

        if (err) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                          "\"iot_outputs_ca_file\" \"%V\" cannot be read",
                          &icf->outputs_ca_file);
            return NGX_CONF_ERROR;
        }
    }

    if (icf->outputs_queue == 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "\"iot_outputs_queue\" must be at least 1");
        return NGX_CONF_ERROR;
    }

    if (icf->shm_zone == NULL) {
        /* the module is loaded but not used */
        return NGX_CONF_OK;
    }

    if (icf->store_path.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "\"iot_zone\" is set but \"iot_store\" is not");
        return NGX_CONF_ERROR;
    }

    if (icf->token_path.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "\"iot_zone\" is set but \"iot_admin_token_file\" "
                      "is not");
        return NGX_CONF_ERROR;
    }

    if (ngx_get_full_name(cycle->pool, &cycle->prefix, &icf->store_path)
        != NGX_OK
        || ngx_get_full_name(cycle->pool, &cycle->prefix, &icf->token_path)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* NUL-terminated copies: both are handed to C libraries */

    p = ngx_pnalloc(cycle->pool, icf->store_path.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(p, icf->store_path.data, icf->store_path.len + 1);
    icf->store_path.data = p;

    if (ngx_iot_history_path(cycle->pool, &icf->store_path,
                             &icf->history_path)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cycle->pool, icf->token_path.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(p, icf->token_path.data, icf->token_path.len + 1);
    icf->token_path.data = p;

    /* the store's folder is made at first start, like nginx's temp paths */

    dir = icf->store_path;

    while (dir.len && dir.data[dir.len - 1] != '/') {
        dir.len--;
    }

    if (dir.len > 1 && !ngx_test_config
        && ngx_process != NGX_PROCESS_SIGNALLER)
    {
        p = ngx_pnalloc(cycle->pool, dir.len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(p, dir.data, dir.len - 1);
        p[dir.len - 1] = '\0';

        if (ngx_create_dir(p, 0755) == NGX_FILE_ERROR
            && ngx_errno != NGX_EEXIST)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          ngx_create_dir_n " \"%s\" failed", p);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_iot_admin_token_load(cycle, icf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_iot_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_conf_t *icf = conf;

    u_char              *p;
    ssize_t              size;
    ngx_str_t           *value, name, s;
    ngx_iot_zone_ctx_t  *ctx;

    if (icf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected name:size",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" (at least %uz)",
                           &value[1], 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_iot_zone_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->name = name;
    ctx->conf = icf;

    icf->shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_iot_module);
    if (icf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (icf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    icf->shm_zone->init = ngx_iot_registry_init_zone;
    icf->shm_zone->data = ctx;

#if (NGX_THREADS)
    /* checkpoints run in nginx's "default" thread pool */
    icf->thread_pool = ngx_thread_pool_add(cf, NULL);
    if (icf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#endif

    return NGX_CONF_OK;
}


/*
 * The master made the store's files; when it runs as root, the workers
 * run as another user and must be able to write them and their folder,
 * where SQLite makes its -wal and -shm files.
 */

static ngx_int_t
ngx_iot_init_module(ngx_cycle_t *cycle)
{
    u_char           *p, *name;
    size_t            len;
    ngx_uint_t        i;
    ngx_iot_conf_t   *icf;
    ngx_file_info_t   sb;
    ngx_core_conf_t  *ccf;

    static char  *suffixes[] = { "", "-wal", "-shm", "-history",
                                 "-history-wal", "-history-shm", NULL };

    icf = ngx_iot_get_conf(cycle);

    if (icf && icf->shm_zone) {
        ngx_iot_realtime_init_module(cycle, icf->event_loop_realtime);
    }

    if (icf == NULL || icf->shm_zone == NULL || geteuid() != 0) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT || ccf->user == 0) {
        return NGX_OK;
    }

    len = icf->store_path.len;

    name = ngx_pnalloc(cycle->pool, len + sizeof("-history-wal"));
    if (name == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; suffixes[i]; i++) {
        p = ngx_cpymem(name, icf->store_path.data, len);
        ngx_cpystrn(p, (u_char *) suffixes[i], sizeof("-history-wal"));

        /* as it was: a file made immutable (chattr +i) cannot be chowned */

        if (stat((char *) name, &sb) == 0
            && sb.st_uid == ccf->user && sb.st_gid == ccf->group)
        {
            continue;
        }

        if (chown((char *) name, ccf->user, ccf->group) == -1
            && ngx_errno != NGX_ENOENT)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "chown(\"%s\", %d) failed", name, ccf->user);
            return NGX_ERROR;
        }
    }

    p = name + len;

    while (p > name && p[-1] != '/') {
        p--;
    }

    if (p - name > 1) {
        p[-1] = '\0';

        if (chown((char *) name, ccf->user, ccf->group) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "chown(\"%s\", %d) failed", name, ccf->user);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_init_process(ngx_cycle_t *cycle)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    if (icf == NULL || icf->shm_zone == NULL) {
        return NGX_OK;
    }

    ngx_iot_realtime_init_process(cycle, icf->event_loop_realtime);

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_iot_store_guard();

    if (ngx_iot_store_get(cycle, cycle->log) == NULL) {
        return NGX_ERROR;
    }

    if (ngx_iot_bus_init_process(cycle, ngx_iot_zone_ctx(cycle)->sh,
                                 &icf->bus)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_iot_history_init_process(cycle, icf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_iot_writer_init_process(cycle, icf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_iot_outputs_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iot_downlink_init_process(cycle);

    ngx_iot_metrics_init_process(cycle);

    icf->checkpoint.handler = ngx_iot_checkpoint_handler;
    icf->checkpoint.data = icf;
    icf->checkpoint.log = cycle->log;
    icf->checkpoint.cancelable = 1;

#if (NGX_THREADS)
    icf->checkpoint_task = ngx_thread_task_alloc(cycle->pool, 0);
    if (icf->checkpoint_task == NULL) {
        return NGX_ERROR;
    }

    icf->checkpoint_task->ctx = icf;
    icf->checkpoint_task->handler = ngx_iot_checkpoint_thread;
    icf->checkpoint_task->event.handler = ngx_iot_checkpoint_done;
    icf->checkpoint_task->event.data = icf;
    icf->checkpoint_task->event.log = cycle->log;
#endif

    ngx_add_timer(&icf->checkpoint, NGX_IOT_CHECKPOINT_INTERVAL);

    return NGX_OK;
}


static void
ngx_iot_exit_process(ngx_cycle_t *cycle)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    if (icf && icf->shm_zone) {
        ngx_iot_metrics_exit_process(cycle);
    }

    if (icf && icf->bus) {
        ngx_iot_bus_exit_process(icf->bus);
        icf->bus = NULL;
    }

    if (icf && icf->history) {
        ngx_iot_history_exit_process(icf->history);
        icf->history = NULL;
    }

    if (icf && icf->store) {
        ngx_iot_store_close(icf->store);
        icf->store = NULL;
    }

    if (icf) {
        ngx_iot_writer_exit_process(icf);
    }

    ngx_iot_outputs_exit_process(cycle);
    ngx_iot_coaplink_exit_process();

#if (NGX_THREADS)
    /* the thread pool's threads have finished by now (it exits first) */
    if (icf && icf->checkpoint_store) {
        ngx_iot_store_close(icf->checkpoint_store);
        icf->checkpoint_store = NULL;
    }
#endif

    ngx_iot_token_release();
}


static void
ngx_iot_exit_master(ngx_cycle_t *cycle)
{
    ngx_iot_token_release();
}


static void
ngx_iot_checkpoint_handler(ngx_event_t *ev)
{
    ngx_iot_conf_t  *icf = ev->data;

#if (NGX_THREADS)

    if (icf->checkpoint_busy) {
        goto next;
    }

    if (ngx_thread_task_post(icf->thread_pool, icf->checkpoint_task)
        == NGX_OK)
    {
        icf->checkpoint_busy = 1;
        return;
    }

#else

    if (icf->store) {
        (void) ngx_iot_store_checkpoint(icf->store, ev->log);
    }

    goto next;

#endif

next:

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, NGX_IOT_CHECKPOINT_INTERVAL);
    }
}


#if (NGX_THREADS)

/* in a thread: it has a connection of its own, used by one task at a time */

static void
ngx_iot_checkpoint_thread(void *data, ngx_log_t *log)
{
    ngx_iot_conf_t  *icf = data;

    if (icf->checkpoint_store == NULL) {
        icf->checkpoint_store = ngx_iot_store_open(&icf->store_path,
                                                   icf->sync, log);
        if (icf->checkpoint_store == NULL) {
            return;
        }

        ngx_iot_store_watch(icf->checkpoint_store,
                            &ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)
                                ->sh->store_fault, log);
    }

    (void) ngx_iot_store_checkpoint(icf->checkpoint_store, log);
}


static void
ngx_iot_checkpoint_done(ngx_event_t *ev)
{
    ngx_iot_conf_t  *icf = ev->data;

    icf->checkpoint_busy = 0;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        if (icf->checkpoint_store) {
            ngx_iot_store_close(icf->checkpoint_store);
            icf->checkpoint_store = NULL;
        }

        return;
    }

    ngx_add_timer(&icf->checkpoint, NGX_IOT_CHECKPOINT_INTERVAL);
}

#endif


ngx_iot_conf_t *
ngx_iot_get_conf(ngx_cycle_t *cycle)
{
    if (cycle->conf_ctx == NULL) {
        return NULL;
    }

    return (ngx_iot_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_iot_module);
}


ngx_iot_zone_ctx_t *
ngx_iot_zone_ctx(ngx_cycle_t *cycle)
{
    return ngx_iot_get_conf(cycle)->shm_zone->data;
}


/* this process's store connection, opened on first use after fork */

ngx_iot_store_t *
ngx_iot_store_get(ngx_cycle_t *cycle, ngx_log_t *log)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf(cycle);

    if (icf->store == NULL) {
        icf->store = ngx_iot_store_open(&icf->store_path, icf->sync, log);

        if (icf->store) {
            ngx_iot_store_watch(icf->store,
                                &ngx_iot_zone_ctx(cycle)->sh->store_fault,
                                log);
        }
    }

    return icf->store;
}


/* iot_field_mask_default, _forced: "none", or the fields a mask hides */

static char *
ngx_iot_field_mask_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, j, *mask;

    static struct {
        ngx_str_t   name;
        ngx_uint_t  bit;
    } fields[] = {
        { ngx_string("imsi"), NGX_IOT_MASK_IMSI },
        { ngx_string("imei"), NGX_IOT_MASK_IMEI },
        { ngx_string("msisdn"), NGX_IOT_MASK_MSISDN },
        { ngx_string("location"), NGX_IOT_MASK_LOCATION },
        { ngx_string("none"), 0 }
    };

    mask = (ngx_uint_t *) (p + cmd->offset);

    if (*mask != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    *mask = 0;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++) {
            if (value[i].len == fields[j].name.len
                && ngx_strncmp(value[i].data, fields[j].name.data,
                               value[i].len)
                   == 0)
            {
                break;
            }
        }

        if (j == sizeof(fields) / sizeof(fields[0])
            || (fields[j].bit == 0 && cf->args->nelts > 2))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid field \"%V\": imsi, imei, msisdn, "
                               "location, or none alone", &value[i]);
            return NGX_CONF_ERROR;
        }

        *mask |= fields[j].bit;
    }

    return NGX_CONF_OK;
}
