/* SPDX-License-Identifier: MIT */
/*
 * Top-level windows as the desktop sees them (EWMH), for porthole-viewer and
 * porthole-tray: is a window manager running, and bringing a program's
 * window to the front ("Open viewer" when one is open already).
 */
#ifndef PORTHOLE_COMMON_X_WINDOW_H
#define PORTHOLE_COMMON_X_WINDOW_H

#include <X11/Xlib.h>
#include <stdbool.h>
#include <sys/types.h>

/* An EWMH window manager is running on the screen (_NET_SUPPORTING_WM_CHECK). */
bool x_wm_running(Display *dpy, int screen);
/*
 * The top-level window of process `pid` (_NET_WM_PID) whose WM_CLASS
 * instance is `res_name`, or None.
 */
Window x_find_window(Display *dpy, int screen, pid_t pid, const char *res_name);
/*
 * Raise and focus `w`: _NET_ACTIVE_WINDOW to the window manager (as a pager
 * does), or by hand when there is none.
 */
void x_activate_window(Display *dpy, int screen, Window w);

#endif
