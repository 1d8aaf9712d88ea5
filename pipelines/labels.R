training_labels <- c(
loss = "Multilabel Balanced Dice Loss",
sdice = "Multilabel Dice Score",
background_dice = "Background Dice Score",
vsat_dice = "VAT Dice Score",
scat_dice = "SAT Dice Score"
)
