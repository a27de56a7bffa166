
/*
 * Copyright (C) nginx-iot authors
 *
 * iot_event_loop_realtime: the workers' event loops in the kernel's
 * round-robin realtime class (SCHED_RR, priority 1), above every thread
 * of the normal class, so that a request waits for no CPU behind the
 * store's writes (nginx's thread pool) nor anything else on the machine
 * (docs/configuration.md).
 */


#ifndef _NGX_IOT_REALTIME_H_INCLUDED_
#define _NGX_IOT_REALTIME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * In the master, at each configuration (init_module): with on, the
 * master itself into SCHED_RR 1, which the processes it starts inherit
 * (a worker's user may not ask for it itself, unless its RLIMIT_RTPRIO
 * lets it); without, back to the normal class if it was put there.
 */
void ngx_iot_realtime_init_module(ngx_cycle_t *cycle, ngx_flag_t on);

/*
 * In every process the master starts (init_process), with on: a worker
 * keeps its event loop, the calling thread, in SCHED_RR 1 (asking for it
 * if the master could not) and puts every other thread of the process,
 * those of nginx's thread pools, back in the normal class; any other
 * process (a cache manager) goes back to the normal class.
 */
void ngx_iot_realtime_init_process(ngx_cycle_t *cycle, ngx_flag_t on);


#endif /* _NGX_IOT_REALTIME_H_INCLUDED_ */
