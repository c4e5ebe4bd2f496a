/*
** team.h - a small team of threads for data-parallel passes with
** barriers.  Plain C11 + pthreads; no SQLite here.
**
** Contract:
**   team_new(n) starts n - 1 worker threads (1 <= n <= TEAM_MAX); the
**     calling thread is member 0.  NULL when memory or a thread cannot be
**     had (nothing is left running then).  A team of 1 starts no thread.
**   team_run(team, fn, arg) calls fn(arg, id, n) once on every member,
**     id = 0 .. n-1 (id 0 on the calling thread), and returns when every
**     call has returned.  One team_run at a time per team.
**   team_barrier(team), called by every member inside fn the same number
**     of times, returns once all n members have reached it.  Everything a
**     member wrote before a barrier (or before team_run was called) is
**     visible to every member after it, and everything written inside fn
**     is visible to the caller once team_run returns.
**   team_free(team) stops and joins the workers (NULL is fine).
**   team_share(len, align, id, n, &lo, &hi): member id's contiguous share
**     [lo, hi) of [0, len).  Shares are whole multiples of align except the
**     last, which takes the remainder, so a share is never narrower than
**     align unless len itself is; members without work get lo == hi.  A
**     pure function of its arguments: the same index always falls to the
**     same member, which is what keeps results independent of timing.
** Waiting members spin briefly, then sleep (futex on Linux, else yield),
** so idle workers cost no CPU between passes.
*/
#ifndef SEMIPERSO_TEAM_H
#define SEMIPERSO_TEAM_H

#include <stddef.h>

#define TEAM_MAX 64

typedef struct Team Team;
typedef void (*TeamFn)(void *arg, int id, int n);

Team *team_new(int n);
void team_free(Team *team);
int team_size(const Team *team);
void team_run(Team *team, TeamFn fn, void *arg);
void team_barrier(Team *team);
void team_share(size_t len, size_t align, int id, int n, size_t *lo, size_t *hi);

#endif
