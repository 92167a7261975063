/*
 * Host-side driver for the firmware's packet encoder (open_insole_packet.c), so
 * tests can compare its bytes with the Python encoder/decoder. Not part of the
 * sketch (the Arduino build ignores this folder).
 *
 * Reads one command per line on stdin, writes one answer line per result:
 *   E seq t0_us dt_us n_samples n_cells has_imu v...   -> hex of oi_encode (or "ERR")
 *       v... = per sample: n_cells forces [N], then if has_imu 3 acc [m/s2] + 3 gyro [dps]
 *   C hex                                              -> "start" | "stop" | "rate N" | "invalid"
 *   P rate_hz n_cells has_imu                          -> "per_packet dt_us"
 *   B n_cells has_imu rate_hz first_seq                -> "OK" (start a batcher)
 *   S t_us v...                                        -> one hex line per finished notification
 *   F                                                  -> hex of the flushed notification, if any
 *   G adc full_scale r_fixed_ohm gain zero             -> "conductance_us force_n"
 *   I raw                                              -> "acc_mps2 gyr_dps" (LSM6DS3TR-C)
 *   Q                                                  -> quit
 * Every command's output ends with a line "." so the reader knows where it stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../insole_signal.h"
#include "../open_insole_packet.h"

static void print_hex(const uint8_t *bytes, size_t len) {
    size_t i;
    for (i = 0; i < len; ++i) {
        printf("%02x", bytes[i]);
    }
    printf("\n");
}

static int read_sample(char **cursor, oi_sample_t *s, unsigned n_cells, int has_imu) {
    unsigned c, k;
    char *end;
    memset(s, 0, sizeof(*s));
    for (c = 0; c < n_cells; ++c) {
        s->cell_force_n[c] = strtod(*cursor, &end);
        if (end == *cursor) return -1;
        *cursor = end;
    }
    if (has_imu) {
        for (k = 0; k < 3; ++k) {
            s->acc_mps2[k] = strtod(*cursor, &end);
            if (end == *cursor) return -1;
            *cursor = end;
        }
        for (k = 0; k < 3; ++k) {
            s->gyr_dps[k] = strtod(*cursor, &end);
            if (end == *cursor) return -1;
            *cursor = end;
        }
    }
    return 0;
}

static int parse_hex(const char *text, uint8_t *out, size_t cap, size_t *len) {
    size_t n = 0;
    unsigned byte;
    while (*text == ' ') ++text;
    while (text[0] && text[0] != '\n' && text[1] && text[1] != '\n') {
        if (n >= cap || sscanf(text, "%2x", &byte) != 1) return -1;
        out[n++] = (uint8_t)byte;
        text += 2;
    }
    *len = n;
    return 0;
}

int main(void) {
    static char line[65536];
    static oi_sample_t samples[OI_MAX_SAMPLES];
    static oi_batcher_t batcher;
    oi_packet_t packets[2];
    uint8_t out[1024];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *cursor = line + 1;
        if (line[0] == 'Q') {
            break;
        } else if (line[0] == 'E') {
            unsigned long seq, t0, dt;
            unsigned n_samples, n_cells, has_imu, i;
            int used = 0;
            size_t len = 0;
            if (sscanf(cursor, "%lu %lu %lu %u %u %u%n", &seq, &t0, &dt, &n_samples, &n_cells,
                       &has_imu, &used) != 6 ||
                n_samples > OI_MAX_SAMPLES || n_cells > OI_MAX_CELLS) {
                printf("ERR\n");
            } else {
                int ok = 1;
                cursor += used;
                for (i = 0; i < n_samples && ok; ++i) {
                    ok = read_sample(&cursor, &samples[i], n_cells, (int)has_imu) == 0;
                }
                if (ok) {
                    len = oi_encode(out, sizeof(out), (uint16_t)seq, (uint32_t)t0, (uint16_t)dt,
                                    (uint8_t)n_cells, (int)has_imu, samples, (uint8_t)n_samples);
                }
                if (len == 0) {
                    printf("ERR\n");
                } else {
                    print_hex(out, len);
                }
            }
        } else if (line[0] == 'C') {
            size_t len = 0;
            uint16_t rate = 0;
            if (parse_hex(cursor, out, sizeof(out), &len) != 0) {
                printf("invalid\n");
            } else {
                switch (oi_parse_command(out, len, &rate)) {
                case OI_COMMAND_START: printf("start\n"); break;
                case OI_COMMAND_STOP: printf("stop\n"); break;
                case OI_COMMAND_SET_RATE: printf("rate %u\n", (unsigned)rate); break;
                default: printf("invalid\n"); break;
                }
            }
        } else if (line[0] == 'P') {
            unsigned rate, n_cells, has_imu;
            if (sscanf(cursor, "%u %u %u", &rate, &n_cells, &has_imu) == 3) {
                printf("%u %u\n",
                       (unsigned)oi_samples_per_packet((uint16_t)rate, (uint8_t)n_cells, (int)has_imu),
                       (unsigned)oi_period_us((uint16_t)rate));
            } else {
                printf("ERR\n");
            }
        } else if (line[0] == 'B') {
            unsigned n_cells, has_imu, rate, first_seq;
            if (sscanf(cursor, "%u %u %u %u", &n_cells, &has_imu, &rate, &first_seq) == 4 &&
                oi_batcher_init(&batcher, (uint8_t)n_cells, (int)has_imu, (uint16_t)rate,
                                (uint16_t)first_seq) == 0) {
                printf("OK\n");
            } else {
                printf("ERR\n");
            }
        } else if (line[0] == 'S') {
            char *end;
            unsigned long t_us = strtoul(cursor, &end, 10);
            oi_sample_t s;
            int n, i;
            cursor = end;
            if (read_sample(&cursor, &s, batcher.n_cells, batcher.has_imu) != 0) {
                printf("ERR\n");
            } else {
                n = oi_batcher_add(&batcher, (uint32_t)t_us, &s, packets);
                for (i = 0; i < n; ++i) print_hex(packets[i].bytes, packets[i].len);
            }
        } else if (line[0] == 'G') {
            unsigned adc, full;
            double r, gain, zero, g_us;
            if (sscanf(cursor, "%u %u %lf %lf %lf", &adc, &full, &r, &gain, &zero) == 5) {
                g_us = is_fsr_conductance_us((uint16_t)adc, (uint16_t)full, r);
                printf("%.17g %.17g\n", g_us, is_cell_force_n(g_us, gain, zero));
            } else {
                printf("ERR\n");
            }
        } else if (line[0] == 'I') {
            int raw;
            if (sscanf(cursor, "%d", &raw) == 1) {
                printf("%.17g %.17g\n", is_lsm6_acc_mps2((int16_t)raw), is_lsm6_gyr_dps((int16_t)raw));
            } else {
                printf("ERR\n");
            }
        } else if (line[0] == 'F') {
            if (oi_batcher_flush(&batcher, &packets[0])) print_hex(packets[0].bytes, packets[0].len);
        } else {
            printf("ERR\n");
        }
        printf(".\n");
        fflush(stdout);
    }
    return 0;
}
