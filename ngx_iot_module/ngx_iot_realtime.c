
/*
 * Copyright (C) nginx-iot authors
 *
 * The event loops' scheduling class (ngx_iot_realtime.h).  The master
 * takes the class and its children inherit it: a worker runs as its
 * user, without the privilege to take it itself.  The threads of a
 * worker's thread pools are made before the module's init_process runs,
 * inherit it too, and are put back here: any thread may lower a thread
 * of its own process.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sched.h>
#include <dirent.h>
#include "ngx_iot_realtime.h"


#define NGX_IOT_REALTIME_PRIORITY  1


static ngx_int_t ngx_iot_realtime_set(ngx_pid_t tid, ngx_uint_t on);
static void ngx_iot_realtime_others(ngx_cycle_t *cycle);


/* the master put itself in the class (and may take itself out) */
static ngx_uint_t  ngx_iot_realtime_master;


void
ngx_iot_realtime_init_module(ngx_cycle_t *cycle, ngx_flag_t on)
{
    if (on) {
        if (sched_getscheduler(0) == SCHED_RR) {
            return;
        }

        if (ngx_iot_realtime_set(0, 1) != NGX_OK) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, ngx_errno,
                          "iot_event_loop_realtime: the master cannot take "
                          "SCHED_RR, each worker will ask for it");
            return;
        }

        ngx_iot_realtime_master = 1;
        return;
    }

    if (ngx_iot_realtime_master) {
        (void) ngx_iot_realtime_set(0, 0);
        ngx_iot_realtime_master = 0;
    }
}


void
ngx_iot_realtime_init_process(ngx_cycle_t *cycle, ngx_flag_t on)
{
    if (!on) {
        return;
    }

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        (void) ngx_iot_realtime_set(0, 0);
        ngx_iot_realtime_others(cycle);
        return;
    }

    if (sched_getscheduler(0) != SCHED_RR
        && ngx_iot_realtime_set(0, 1) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                      "iot_event_loop_realtime: the event loop stays in "
                      "the normal scheduling class");
        return;
    }

    ngx_iot_realtime_others(cycle);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "iot_event_loop_realtime: the event loop runs in SCHED_RR "
                  "%d", NGX_IOT_REALTIME_PRIORITY);
}


static ngx_int_t
ngx_iot_realtime_set(ngx_pid_t tid, ngx_uint_t on)
{
    struct sched_param  sp;

    ngx_memzero(&sp, sizeof(struct sched_param));
    sp.sched_priority = on ? NGX_IOT_REALTIME_PRIORITY : 0;

    return sched_setscheduler(tid, on ? SCHED_RR : SCHED_OTHER, &sp) == 0
           ? NGX_OK : NGX_ERROR;
}


/* every thread of the process but the calling one: the normal class */

static void
ngx_iot_realtime_others(ngx_cycle_t *cycle)
{
    DIR            *dir;
    ngx_pid_t       self, tid;
    struct dirent  *de;

    /* init_process runs on the process's main thread: its id is the pid */
    self = ngx_getpid();

    dir = opendir("/proc/self/task");
    if (dir == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                      "iot_event_loop_realtime: opendir(\"/proc/self/task\") "
                      "failed, the process's other threads keep SCHED_RR");
        return;
    }

    while ((de = readdir(dir)) != NULL) {
        tid = (ngx_pid_t) ngx_atoi((u_char *) de->d_name,
                                   ngx_strlen(de->d_name));

        if (tid <= 0 || tid == self) {
            continue;
        }

        if (ngx_iot_realtime_set(tid, 0) != NGX_OK) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                          "iot_event_loop_realtime: thread %P keeps "
                          "SCHED_RR", tid);
        }
    }

    (void) closedir(dir);
}
