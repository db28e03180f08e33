/*
 * address.h - the Unix domain address of a path, for the test programs.
 */
#ifndef TEST_PROGRAMS_ADDRESS_H
#define TEST_PROGRAMS_ADDRESS_H

#include <string.h>
#include <sys/un.h>

static struct sockaddr_un address_of(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, path);
    return a;
}

#endif
