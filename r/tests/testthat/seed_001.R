# seeds/001: the R code of the seed, verbatim (the prose around it left out).
mbdice_loss <- function(y_true, y_pred, epsilon=0) {
intersection = keras::k_sum(y_true*y_pred, axis=c(2,3))
union = keras::k_sum(y_true*y_true+y_pred*y_pred, axis=c(2,3))
dice = keras::k_mean(2*intersection/(union+epsilon), axis=c(2,1))
return(1 - dice)
}
training_labels <- c(
loss = "Multilabel Balanced Dice Loss",
sdice = "Multilabel Dice Score",
background_dice = "Background Dice Score",
vsat_dice = "VAT Dice Score",
scat_dice = "SAT Dice Score"
)
mdice = "run/2021-03-10/unet_2d_mdice/fat_768x384x1/unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24.csv"
tb <- readr::read_csv(mdice)
hist <- to_history(tb)
early_stoppings(hist, tolerance = 0.005) %>% arrange(metric, epoch)
plot_history(
hist,
lookup_table = training_labels,
segments = early_stoppings(hist, tolerance = 0.005),
base_size = 12
) +
plot_annotation(
title = 'The surprising truth about training UNets neural networks',
subtitle = 'These 5 plots will reveal yet-untold secrets about our beloved data-set',
caption = 'UNet NN: unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24'
)
mdice = "run/2021-03-02/unet_2d_mdice/fat_768x384x1/unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR40.csv"
tb <- readr::read_csv(mdice)
hist <- to_history(tb)
plot_history(
hist,
lookup_table = training_labels,
segments = early_stoppings(hist, tolerance = 0.005),
base_size = 12
) +
plot_annotation(
title = 'The surprising truth about training UNets neural networks',
subtitle = 'These 5 plots will reveal yet-untold secrets about our beloved data-set',
caption = 'UNet NN: unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20'
)
mdice_ag = "run/2021-03-01/unet_2d_mdice_ag/fat_768x384x1/unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24.csv"
tb_ag <- readr::read_csv(mdice_ag)
hist_ag <- to_history(tb_ag)
plot_history(
hist_ag,
lookup_table = training_labels,
segments = early_stoppings(hist_ag, tolerance = 0.005),
base_size = 14
) +
plot_annotation(
title = 'The surprising truth about training UNets neural networks',
caption = mdice_ag
)
mdice_ag = "run/2021-03-02/unet_2d_mdice_ag/fat_768x384x1/unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20.csv"
tb_ag <- readr::read_csv(mdice_ag)
hist_ag <- to_history(tb_ag)
plot_history(
hist_ag,
lookup_table = training_labels,
segments = early_stoppings(hist_ag, tolerance = 0.005),
base_size = 12
) +
plot_annotation(
title = 'The surprising truth about training UNets neural networks',
subtitle = 'These 5 plots will reveal yet-untold secrets about our beloved data-set',
caption = 'UNet NN: unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20'
)
