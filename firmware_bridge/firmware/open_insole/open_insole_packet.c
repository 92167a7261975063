/* calfload open insole profile v1: portable packet encoder. See open_insole_packet.h. */
#include "open_insole_packet.h"

#include <math.h>
#include <string.h>

/* Wire steps, written exactly as the Python encoder computes them. */
#define OI_CELL_N_PER_COUNT 0.1
#define OI_G0_MPS2 9.80665
#define OI_ACC_MPS2_PER_COUNT (OI_G0_MPS2 / 2048.0)
#define OI_GYR_DPS_PER_COUNT (1.0 / 16.4)

static double quantise(double value, double step, double lo, double hi) {
    double counts;
    if (isnan(value)) {
        return 0.0;
    }
    counts = rint(value / step); /* ties to even, like numpy.rint */
    if (counts < lo) {
        return lo;
    }
    if (counts > hi) {
        return hi;
    }
    return counts;
}

uint16_t oi_force_counts(double force_n) {
    return (uint16_t)quantise(force_n, OI_CELL_N_PER_COUNT, 0.0, 65535.0);
}

int16_t oi_acc_counts(double acc_mps2) {
    return (int16_t)quantise(acc_mps2, OI_ACC_MPS2_PER_COUNT, -32768.0, 32767.0);
}

int16_t oi_gyr_counts(double gyr_dps) {
    return (int16_t)quantise(gyr_dps, OI_GYR_DPS_PER_COUNT, -32768.0, 32767.0);
}

size_t oi_sample_size(uint8_t n_cells, int has_imu) {
    return 2u * (size_t)n_cells + (has_imu ? 12u : 0u);
}

size_t oi_packet_size(uint8_t n_samples, uint8_t n_cells, int has_imu) {
    return OI_HEADER_LEN + (size_t)n_samples * oi_sample_size(n_cells, has_imu);
}

static uint8_t *put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_i16(uint8_t *p, int16_t v) {
    return put_u16(p, (uint16_t)v); /* two's complement on every target we build for */
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

size_t oi_encode(uint8_t *out, size_t cap, uint16_t seq, uint32_t t0_us, uint16_t dt_us,
                 uint8_t n_cells, int has_imu, const oi_sample_t *samples, uint8_t n_samples) {
    size_t total;
    uint8_t *p = out;
    uint8_t i, c, k;
    if (out == NULL || samples == NULL || n_samples < 1u || n_samples > OI_MAX_SAMPLES ||
        n_cells < 1u || n_cells > OI_MAX_CELLS || dt_us == 0u) {
        return 0u;
    }
    total = oi_packet_size(n_samples, n_cells, has_imu);
    if (total > cap) {
        return 0u;
    }
    *p++ = (uint8_t)OI_VERSION;
    *p++ = n_samples;
    p = put_u16(p, seq);
    p = put_u32(p, t0_us);
    p = put_u16(p, dt_us);
    *p++ = n_cells;
    *p++ = has_imu ? (uint8_t)OI_FLAG_IMU : 0u;
    for (i = 0; i < n_samples; ++i) {
        const oi_sample_t *s = &samples[i];
        for (c = 0; c < n_cells; ++c) {
            p = put_u16(p, oi_force_counts(s->cell_force_n[c]));
        }
        if (has_imu) {
            for (k = 0; k < 3u; ++k) {
                p = put_i16(p, oi_acc_counts(s->acc_mps2[k]));
            }
            for (k = 0; k < 3u; ++k) {
                p = put_i16(p, oi_gyr_counts(s->gyr_dps[k]));
            }
        }
    }
    return total;
}

oi_command_t oi_parse_command(const uint8_t *data, size_t len, uint16_t *rate_hz) {
    if (data == NULL || len == 0u) {
        return OI_COMMAND_INVALID;
    }
    if (len == 1u && data[0] == OI_CMD_STOP) {
        return OI_COMMAND_STOP;
    }
    if (len == 1u && data[0] == OI_CMD_START) {
        return OI_COMMAND_START;
    }
    if (len == 3u && data[0] == OI_CMD_SET_RATE) {
        uint16_t rate = (uint16_t)(data[1] | ((uint16_t)data[2] << 8));
        if (rate == 0u) {
            return OI_COMMAND_INVALID;
        }
        if (rate_hz != NULL) {
            *rate_hz = rate;
        }
        return OI_COMMAND_SET_RATE;
    }
    return OI_COMMAND_INVALID;
}

uint16_t oi_clamp_rate_hz(uint16_t rate_hz) {
    if (rate_hz < OI_MIN_RATE_HZ) {
        return (uint16_t)OI_MIN_RATE_HZ;
    }
    if (rate_hz > OI_MAX_RATE_HZ) {
        return (uint16_t)OI_MAX_RATE_HZ;
    }
    return rate_hz;
}

uint16_t oi_period_us(uint16_t rate_hz) {
    uint16_t rate = oi_clamp_rate_hz(rate_hz);
    return (uint16_t)((1000000u + rate / 2u) / rate);
}

uint8_t oi_samples_per_packet(uint16_t rate_hz, uint8_t n_cells, int has_imu) {
    uint16_t rate = oi_clamp_rate_hz(rate_hz);
    size_t per_sample = oi_sample_size(n_cells, has_imu);
    size_t fit = per_sample ? (OI_MAX_PACKET_LEN - OI_HEADER_LEN) / per_sample : 1u;
    size_t n = (rate + 10u) / 20u; /* about 20 notifications per second */
    if (n < 1u) {
        n = 1u;
    }
    if (n > OI_MAX_SAMPLES) {
        n = OI_MAX_SAMPLES;
    }
    if (n > fit) {
        n = fit;
    }
    return (uint8_t)(n < 1u ? 1u : n);
}

int oi_batcher_init(oi_batcher_t *b, uint8_t n_cells, int has_imu, uint16_t rate_hz,
                    uint16_t first_seq) {
    if (b == NULL || n_cells < 1u || n_cells > OI_MAX_CELLS) {
        return -1;
    }
    memset(b, 0, sizeof(*b));
    b->n_cells = n_cells;
    b->has_imu = has_imu ? 1u : 0u;
    b->dt_us = oi_period_us(rate_hz);
    b->per_packet = oi_samples_per_packet(rate_hz, n_cells, has_imu);
    b->seq = first_seq;
    return 0;
}

static int emit(oi_batcher_t *b, oi_packet_t *out) {
    size_t n;
    if (b->count == 0u) {
        return 0;
    }
    n = oi_encode(out->bytes, sizeof(out->bytes), b->seq, b->t0_us, b->dt_us, b->n_cells,
                  b->has_imu, b->pending, b->count);
    out->len = (uint16_t)n;
    b->seq = (uint16_t)(b->seq + 1u);
    b->count = 0u;
    return n > 0u ? 1 : 0;
}

int oi_batcher_add(oi_batcher_t *b, uint32_t t_us, const oi_sample_t *sample, oi_packet_t out[2]) {
    int n_out = 0;
    if (b == NULL || sample == NULL || out == NULL) {
        return 0;
    }
    /* unsigned arithmetic: contiguity holds across the u32 clock wrap */
    if (b->count > 0u && (uint32_t)(t_us - b->t0_us) != (uint32_t)b->count * b->dt_us) {
        n_out += emit(b, &out[n_out]);
    }
    if (b->count == 0u) {
        b->t0_us = t_us;
    }
    b->pending[b->count++] = *sample;
    if (b->count >= b->per_packet) {
        n_out += emit(b, &out[n_out]);
    }
    return n_out;
}

int oi_batcher_set_max_len(oi_batcher_t *b, uint16_t max_len) {
    size_t per_sample, fit;
    if (b == NULL) {
        return -1;
    }
    if (max_len > OI_MAX_PACKET_LEN) {
        max_len = (uint16_t)OI_MAX_PACKET_LEN;
    }
    per_sample = oi_sample_size(b->n_cells, b->has_imu);
    if (max_len < OI_HEADER_LEN + per_sample) {
        return -1;
    }
    fit = (max_len - OI_HEADER_LEN) / per_sample;
    if (b->per_packet > fit) {
        b->per_packet = (uint8_t)fit;
    }
    return 0;
}

int oi_batcher_flush(oi_batcher_t *b, oi_packet_t *out) {
    if (b == NULL || out == NULL) {
        return 0;
    }
    return emit(b, out);
}
