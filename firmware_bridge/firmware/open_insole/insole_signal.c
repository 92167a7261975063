/* Signal conditioning for the DIY insole. See insole_signal.h. */
#include "insole_signal.h"

double is_fsr_conductance_us(uint16_t adc, uint16_t adc_full_scale, double r_fixed_ohm) {
    double g_us;
    if (adc == 0u || adc_full_scale == 0u || r_fixed_ohm <= 0.0) {
        return 0.0; /* open circuit: no load */
    }
    if (adc >= adc_full_scale) {
        return IS_MAX_CONDUCTANCE_US;
    }
    g_us = 1e6 * (double)adc / (r_fixed_ohm * (double)(adc_full_scale - adc));
    return g_us > IS_MAX_CONDUCTANCE_US ? IS_MAX_CONDUCTANCE_US : g_us;
}

double is_cell_force_n(double conductance_us, double gain_n_per_us, double zero_us) {
    double f = gain_n_per_us * (conductance_us - zero_us);
    return f > 0.0 ? f : 0.0;
}

double is_lsm6_acc_mps2(int16_t raw) {
    return (double)raw * IS_LSM6_ACC_G_PER_LSB_16G * IS_G0_MPS2;
}

double is_lsm6_gyr_dps(int16_t raw) {
    return (double)raw * IS_LSM6_GYR_DPS_PER_LSB_2000DPS;
}

void is_map_axes(const double in[3], const uint8_t axis[3], const int8_t sign[3], double out[3]) {
    int i;
    for (i = 0; i < 3; ++i) {
        out[i] = (sign[i] < 0 ? -1.0 : 1.0) * in[axis[i] % 3u];
    }
}
