/* Forward declarations of hostd's objects, so headers need not include each other. */
#pragma once

typedef struct Manager Manager;
typedef struct Domain Domain;
typedef struct Display Display;
typedef struct Console Console;
typedef struct Screenshotter Screenshotter;
typedef struct ControlServer ControlServer;
