/*
 * calfload open insole profile v1: portable packet encoder (no Arduino, no heap).
 *
 * The wire layout is documented in hardware.md ("Open insole profile, version 1")
 * and decoded by calfload.bridge.devices.open_insole. All integers little-endian:
 *
 *   0  u8  version (1)      1  u8  n_samples (1..16)   2  u16 seq
 *   4  u32 t0_us            8  u16 dt_us               10 u8  n_cells (1..16)
 *   11 u8  flags (bit 0 = IMU block per sample)        12 samples...
 *   sample = n_cells x u16 force (0.1 N/count) [+ 3 x i16 acc (1/2048 g), 3 x i16 gyro (1/16.4 dps)]
 *
 * Quantisation matches the Python encoder exactly: value / step, rounded to the
 * nearest integer with ties to even (C rint in the default rounding mode, numpy
 * rint), then clipped to the field's range. NaN encodes as 0.
 *
 * Compiles as C99 and as C++ (the Arduino sketch includes it).
 */
#ifndef OPEN_INSOLE_PACKET_H
#define OPEN_INSOLE_PACKET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OI_VERSION 1u
#define OI_HEADER_LEN 12u
#define OI_FLAG_IMU 0x01u
#define OI_MAX_SAMPLES 16u
#define OI_MAX_CELLS 16u
/* Largest notification the profile allows (ATT MTU 247 minus the 3-byte header). */
#define OI_MAX_PACKET_LEN 244u
/* Sample rates the reference firmware accepts; others are clamped into this range. */
#define OI_MIN_RATE_HZ 20u
#define OI_MAX_RATE_HZ 500u

/* Control commands (write to the control characteristic). */
#define OI_CMD_STOP 0x00u
#define OI_CMD_START 0x01u
#define OI_CMD_SET_RATE 0x02u

/* One sample in physical units. Unused cells are ignored. */
typedef struct {
    double cell_force_n[OI_MAX_CELLS];
    double acc_mps2[3];
    double gyr_dps[3];
} oi_sample_t;

/* Wire counts for one value. */
uint16_t oi_force_counts(double force_n);
int16_t oi_acc_counts(double acc_mps2);
int16_t oi_gyr_counts(double gyr_dps);

/* Bytes per sample and per notification. */
size_t oi_sample_size(uint8_t n_cells, int has_imu);
size_t oi_packet_size(uint8_t n_samples, uint8_t n_cells, int has_imu);

/*
 * Encode one notification into out (capacity cap). Returns the number of bytes
 * written, or 0 when an argument is out of range or the buffer is too small.
 */
size_t oi_encode(uint8_t *out, size_t cap, uint16_t seq, uint32_t t0_us, uint16_t dt_us,
                 uint8_t n_cells, int has_imu, const oi_sample_t *samples, uint8_t n_samples);

/* Decoded control command. */
typedef enum {
    OI_COMMAND_INVALID = -1,
    OI_COMMAND_STOP = 0,
    OI_COMMAND_START = 1,
    OI_COMMAND_SET_RATE = 2
} oi_command_t;

/* Parse one control write; *rate_hz is set for OI_COMMAND_SET_RATE. */
oi_command_t oi_parse_command(const uint8_t *data, size_t len, uint16_t *rate_hz);

/* Clamp a requested rate into [OI_MIN_RATE_HZ, OI_MAX_RATE_HZ]. */
uint16_t oi_clamp_rate_hz(uint16_t rate_hz);

/* Sample period in µs for a rate (rounded to the nearest µs). */
uint16_t oi_period_us(uint16_t rate_hz);

/*
 * Samples per notification: about 20 notifications per second (5 at 100 Hz),
 * at least 1, at most OI_MAX_SAMPLES, and never more than fit OI_MAX_PACKET_LEN.
 */
uint8_t oi_samples_per_packet(uint16_t rate_hz, uint8_t n_cells, int has_imu);

/* One finished notification. */
typedef struct {
    uint8_t bytes[OI_MAX_PACKET_LEN];
    uint16_t len;
} oi_packet_t;

/*
 * Groups samples into notifications. Samples inside one notification are
 * exactly dt_us apart on the sensor clock; a sample that does not follow the
 * previous one by dt_us (a skipped sample) closes the pending notification
 * early, so the bridge sees the gap from t0_us and never gets invented samples.
 * seq counts notifications and wraps at 65536.
 */
typedef struct {
    uint8_t n_cells;
    uint8_t has_imu;
    uint8_t per_packet;
    uint8_t count;
    uint16_t dt_us;
    uint16_t seq;
    uint32_t t0_us;
    oi_sample_t pending[OI_MAX_SAMPLES];
} oi_batcher_t;

/* Returns 0 on success, -1 for an invalid configuration. seq starts at first_seq. */
int oi_batcher_init(oi_batcher_t *b, uint8_t n_cells, int has_imu, uint16_t rate_hz,
                    uint16_t first_seq);

/*
 * Add the sample taken at sensor time t_us. Writes 0, 1 or 2 finished
 * notifications into out[0..] and returns how many.
 */
int oi_batcher_add(oi_batcher_t *b, uint32_t t_us, const oi_sample_t *sample, oi_packet_t out[2]);

/*
 * Limit notifications to max_len bytes (ATT MTU - 3 of the current link).
 * Returns 0, or -1 when not even one sample fits (the link cannot carry the profile).
 */
int oi_batcher_set_max_len(oi_batcher_t *b, uint16_t max_len);

/* Close the pending notification (on stop or rate change). Returns 0 or 1. */
int oi_batcher_flush(oi_batcher_t *b, oi_packet_t *out);

#ifdef __cplusplus
}
#endif

#endif /* OPEN_INSOLE_PACKET_H */
