/* The C baseline of the start-up benchmark (scripts/bench.sh compiles it with cc): the least a
 * native messaging host does, with the same frame I/O as cpx-connect's `version` (read a 4-byte
 * native-order length and the frame, write a fixed answer frame), nothing else. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int read_all(int fd, void *buffer, size_t length) {
    char *at = buffer;
    while (length > 0) {
        ssize_t got = read(fd, at, length);
        if (got <= 0) return -1;
        at += got;
        length -= (size_t)got;
    }
    return 0;
}

int main(void) {
    static char body[1 << 20];
    static const char answer[] = "{\"id\":1,\"result\":{\"protocol\":1,\"version\":\"0.1.0\"}}";
    uint32_t length;
    while (read_all(0, &length, sizeof length) == 0) {
        if (length > sizeof body || read_all(0, body, length) != 0) return 0;
        char frame[sizeof(uint32_t) + sizeof answer];
        uint32_t answer_length = (uint32_t)(sizeof answer - 1);
        memcpy(frame, &answer_length, sizeof answer_length);
        memcpy(frame + sizeof answer_length, answer, sizeof answer - 1);
        if (write(1, frame, sizeof answer_length + sizeof answer - 1) < 0) return 0;
    }
    return 0;
}
