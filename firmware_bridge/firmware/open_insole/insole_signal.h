/*
 * Signal conditioning for the DIY insole, kept free of Arduino calls so it can
 * be compiled and tested on a host.
 *
 * FSR read-out: each force-sensing resistor sits between 3V3 and an analog pin,
 * with a fixed resistor R_m from that pin to GND (a voltage divider). With an
 * ADC reading a out of full scale A, the FSR's conductance is
 *     G = a / (R_m * (A - a))            [S]
 * which Interlink's FSR integration guide (Interlink Electronics, "FSR 400 Series
 * Data Sheet / Integration Guide") gives as roughly proportional to force over
 * the useful range. Each cell's force is then
 *     F = gain * (G - zero)              [N], gain in N/µS, zero in µS
 * with gain and zero fitted by calfload.bridge.calibration.fit_cell_calibration.
 * Uncalibrated firmware uses gain 1 N/µS and zero 0, so the force field carries
 * the conductance in µS (0.1 µS per count) for recording calibration trials.
 *
 * LSM6DS3TR-C sensitivities (ST datasheet DS11873, Table 3): ±16 g full scale
 * 0.488 mg/LSB; ±2000 dps full scale 70 mdps/LSB.
 */
#ifndef INSOLE_SIGNAL_H
#define INSOLE_SIGNAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IS_G0_MPS2 9.80665
#define IS_LSM6_ACC_G_PER_LSB_16G 0.000488
#define IS_LSM6_GYR_DPS_PER_LSB_2000DPS 0.070
/* Conductance reported for a saturated ADC (FSR shorted or load far above range). */
#define IS_MAX_CONDUCTANCE_US 6000.0

/* FSR conductance in µS from one ADC reading (adc_full_scale = 4095 for 12 bits). */
double is_fsr_conductance_us(uint16_t adc, uint16_t adc_full_scale, double r_fixed_ohm);

/* Calibrated cell force in N (never negative). */
double is_cell_force_n(double conductance_us, double gain_n_per_us, double zero_us);

/* LSM6DS3TR-C raw counts to SI / dps at the ±16 g and ±2000 dps ranges. */
double is_lsm6_acc_mps2(int16_t raw);
double is_lsm6_gyr_dps(int16_t raw);

/*
 * Map sensor axes to the insole frame (x heel->toe, y left, z up). axis[i] is the
 * sensor axis (0, 1, 2) that becomes insole axis i; sign[i] is +1 or -1.
 */
void is_map_axes(const double in[3], const uint8_t axis[3], const int8_t sign[3], double out[3]);

#ifdef __cplusplus
}
#endif

#endif /* INSOLE_SIGNAL_H */
