/*
 * Per-cell FSR calibration: F = gain * (G - zero), G the cell's conductance in µS.
 *
 * These defaults (gain 1 N/µS, zero 0 µS) make the firmware report each cell's
 * conductance in the force field, which is what the calibration trials record.
 * Replace them with the values printed by the calibration fit
 * (calfload.bridge.calibration, see hardware.md "DIY insole: calibration")
 * and flash again. One file per insole: keep a copy per side.
 */
#ifndef INSOLE_CALIBRATION_H
#define INSOLE_CALIBRATION_H

#define INSOLE_CAL_GAIN_N_PER_US {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}
#define INSOLE_CAL_ZERO_US {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}

#endif /* INSOLE_CALIBRATION_H */
