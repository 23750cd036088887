// Platform switches for CVigil, defined once as 0/1 and tested with #if.
#ifndef VIGIL_PLATFORM_H
#define VIGIL_PLATFORM_H

// Pulls in <features.h> on glibc, which defines __GLIBC__ and __GLIBC_MINOR__.
#include <sys/types.h>

#if defined(__linux__)
#define VIGIL_LINUX 1
#else
#define VIGIL_LINUX 0
#endif

#if defined(__APPLE__)
#define VIGIL_DARWIN 1
#else
#define VIGIL_DARWIN 0
#endif

// glibc >= 2.34 has posix_spawn_file_actions_addclosefrom_np.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define VIGIL_HAVE_ADDCLOSEFROM 1
#else
#define VIGIL_HAVE_ADDCLOSEFROM 0
#endif

// glibc >= 2.29 and Darwin have posix_spawn_file_actions_addchdir_np.
#if VIGIL_DARWIN || (defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29)))
#define VIGIL_HAVE_ADDCHDIR 1
#else
#define VIGIL_HAVE_ADDCHDIR 0
#endif

#endif // VIGIL_PLATFORM_H
